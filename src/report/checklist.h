// The one-page checklist for PACS administrators and CISOs: each item is pass, fail or not-measured, derived
// from the results only (never guessed), with the evidence behind it.
#pragma once

#include <string>
#include <vector>

#include "report/results.h"

namespace dg::report {

struct ChecklistItem {
  std::string id;        // stable: ae, tls, certificates, query, store, files, audit, clock, deid
  std::string title;     // "No DICOM service accepts an unknown AE title"
  std::string status;    // pass, fail, not-measured
  std::string evidence;  // what in the results says so (addresses, counts, check IDs; no patient data)
  std::vector<std::string> checks;   // the check IDs this item is judged by
  std::vector<std::string> targets;  // where it fails
};

std::vector<ChecklistItem> checklist(const Results& r);

}  // namespace dg::report
