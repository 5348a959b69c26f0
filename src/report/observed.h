// "Seen from the internet": each service a search engine saw (dicomguard shodan), what its banner proved, and what
// a scan in the same results found there today. Both renderers print these rows.
#pragma once

#include <string>
#include <vector>

#include "report/results.h"

namespace dg::report {

struct ObservedRow {
  std::string service;   // "203.0.113.5:104 dimse"
  std::string seen_by;   // "shodan", "censys"
  std::string seen;      // "2026-11-20" (last seen), or "" when the export gave no time
  std::string proved;    // the exposure and the checks the banner proved: "ae-open: dimse.ae.any-called, ..."
  std::string today;     // what the scan found now, "no DICOM answer now", or "not re-checked"
  bool still_open = false;  // a scan found a DICOM service there today
};

std::vector<ObservedRow> observed_rows(const Results& r);

}  // namespace dg::report
