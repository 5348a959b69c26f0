// The one-page checklist for PACS administrators and CISOs: each item is pass, fail or not-measured, derived
// from the results only (never guessed), with the evidence behind it.
#pragma once

#include <string>
#include <vector>

#include "report/results.h"

namespace dg::report {

// Never guessed: not_measured means the results hold no evidence either way, and it is never a pass.
enum class ItemStatus { pass, fail, not_measured };
const char* status_name(ItemStatus s);   // "pass", "fail", "not-measured" (the HTML's data-status)
const char* status_label(ItemStatus s);  // "pass", "fail", "not measured" (what a reader sees)

struct ChecklistItem {
  std::string id;        // stable: ae, tls, certificates, query, store, files, audit, clock, deid
  std::string title;     // "No DICOM service accepts an unknown AE title"
  ItemStatus status = ItemStatus::not_measured;
  std::string evidence;  // what in the results says so (addresses, counts, check IDs; no patient data)
  std::vector<std::string> checks;   // the check IDs this item is judged by
  std::vector<std::string> targets;  // where it fails
};

std::vector<ChecklistItem> checklist(const Results& r);

// How an item names where it fails in its evidence: services by address:port (the default), hosts by address, or
// files, counted and never named (their paths may name patients; the item's targets still hold them).
struct Subjects {
  const char* one = "service";
  const char* many = "services";
  bool named = true;
};

// The one rule every item is judged by, here and wherever results are judged item by item (dicomguard rfp's
// requirements, mds2's answers): fails where any of `checks` was found in the measured results (a search
// engine's observations do not count, see Results); otherwise passes when `measured` (the results hold what would
// have shown a failure), else not measured, with `why_not` as its evidence. Never guessed.
ChecklistItem judge(const Results& r, std::string id, std::string title, std::vector<std::string> checks,
                    bool measured, const std::string& what_failed, const std::string& passed,
                    const std::string& why_not, const Subjects& subjects = {});

// A pass judged from part of a sharded run becomes not measured (the missing shards may hold what fails); its
// failures stand. `from`: the commands whose results the item is judged from ("scan", "files", ...).
void demote_if_incomplete(const Results& r, ChecklistItem& it, const std::vector<std::string>& from);

// A fix measured: each checklist item before and after, for the items measured in either.
struct BeforeAfter {
  ChecklistItem before, after;
  bool changed() const { return before.status != after.status; }
};
std::vector<BeforeAfter> compare(const Results& before, const Results& after);

}  // namespace dg::report
