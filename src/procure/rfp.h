// dicomguard rfp: security requirements for buying or renewing an imaging system (data/rfp.json, embedded), each
// a testable "shall" with its sections of the standard and its acceptance test; with results, each requirement
// met, not met or not measured by the checklist's rule (report::judge), with the evidence.
#pragma once

#include <string>
#include <vector>

#include "report/checklist.h"
#include "report/results.h"

namespace dg::procure {

struct Requirement {
  std::string id, title, shall, acceptance, note;
  std::vector<std::string> refs, checks;
  std::vector<std::string> measured_by;  // the kinds of evidence a clean result needs (procure/coverage.h)
};

const std::vector<Requirement>& requirements();

// item.status: pass = met, fail = not met, not_measured; item.evidence says which hosts, files and checks.
struct Verdict {
  const Requirement* req = nullptr;
  report::ChecklistItem item;
};
std::vector<Verdict> check(const report::Results& r);
const char* verdict_label(report::ItemStatus s);  // "met", "not met", "not measured"

// The requirement table (verdicts null) or the table with a verdict and evidence column; format md, html or csv.
std::string render_rfp(const std::vector<Verdict>* verdicts, const std::string& format);

}  // namespace dg::procure
