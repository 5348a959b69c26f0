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

// A fix measured: each checklist item before and after, for the items measured in either.
struct BeforeAfter {
  ChecklistItem before, after;
  bool changed() const { return before.status != after.status; }
};
std::vector<BeforeAfter> compare(const Results& before, const Results& after);

}  // namespace dg::report
