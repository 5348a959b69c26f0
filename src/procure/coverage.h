// What a set of results measured: for each kind of evidence a requirement or an MDS2 answer rests on
// ("scan-dimse", "tls-graded", "files", ...; listed in data/rfp.json's "about"), whether the results hold it, in
// words for the evidence column. A clean result counts only where the evidence that would have shown a failure is
// present (report::judge); this says whether it is.
#pragma once

#include <string>
#include <vector>

#include "report/checklist.h"
#include "report/results.h"

namespace dg::procure {

struct Coverage {
  bool measured = false;
  std::string what;     // what was measured, when it was: "scan (assess) of 2 DIMSE services: 127.0.0.1:104, ..."
  std::string why_not;  // why it was not: "no scan in these results"
  report::Subjects subjects;          // how failures are named (services, hosts, files)
  std::vector<std::string> commands;  // the commands the evidence comes from (for sharded runs)
};

// The kinds all of which must be measured; an unknown kind is never measured (and says so).
Coverage coverage(const std::vector<std::string>& kinds, const report::Results& r);
bool known_kind(const std::string& kind);

}  // namespace dg::procure
