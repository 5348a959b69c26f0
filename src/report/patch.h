// "Patch": each service whose announced product version is in the range of published advisories
// (product.vulnerable), or whose product has advisories but announced no comparable version
// (product.unknown-version), with what to upgrade to. Both renderers print these rows; none, no section.
#pragma once

#include <string>
#include <vector>

#include "report/results.h"

namespace dg::report {

struct PatchRow {
  std::string target;      // "127.0.0.1:104"
  std::string product, version;
  std::string advisories;  // "CVE-2022-43272 (high), ..." or, for an unknown version, what cannot be told
  std::string fixed_in;    // the first release that fixes them all; "no fixed release" / "unknown"
  std::string severity;    // the finding's: the worst advisory's
  bool version_unknown = false;
};

std::vector<PatchRow> patch_rows(const Results& r);

}  // namespace dg::report
