// Known-vulnerable products: the published advisories of data/vulnerabilities.json (embedded at build time; its
// "about" says where entries come from and how ranges match), matched against the product and version a scan's
// fingerprint names. A match says the announced version is in an advisory's range, nothing more: a distribution
// that backports fixes announces the same version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "findings/finding.h"
#include "findings/severity.h"

namespace dg::scan {

// The leading dotted numbers of a version ("1.12.10" -> {1,12,10}; "1.5.0c" -> {1,5,0}); nullopt when the
// version does not start with a digit (empty, "mainline", "dcm4che 5.x").
std::optional<std::vector<std::uint64_t>> parse_version(std::string_view version);
// <0, 0, >0 like strcmp; a missing component counts as 0 (3.6 == 3.6.0).
int compare_versions(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b);

struct VersionRange {
  std::string introduced;     // first affected ("" = every earlier version)
  std::string fixed;          // first not affected, exclusive ("" = none)
  std::string last_affected;  // last affected, inclusive ("" = none)
  bool contains(const std::vector<std::uint64_t>& v) const;
};

struct Advisory {
  std::string product, id, fixed;  // fixed: the first fixed release, "" when the advisory names none
  std::vector<VersionRange> affected;
  Severity severity = Severity::high;
  std::string cvss, impact, source;
  bool affects(const std::vector<std::uint64_t>& v) const;
};

// Every entry of the embedded table, parsed once (a malformed table is a build error caught by the unit tests:
// it throws std::runtime_error naming the entry).
const std::vector<Advisory>& advisories();
// Parses a table document like the embedded one; throws std::runtime_error with the entry at fault.
std::vector<Advisory> parse_advisories(std::string_view json_text);

// The product name an advisory is filed under: the fingerprint's product without the suffix it adds when only
// the implementation version name named the toolkit (" (named by its version name; ...)").
std::string advisory_product(std::string_view fingerprint_product);
// The advisories filed under the product (by advisory_product).
std::vector<const Advisory*> for_product(std::string_view product);
// Those whose ranges hold the version; empty when the version cannot be placed or nothing matches.
std::vector<const Advisory*> lookup(std::string_view product, std::string_view version);

// The findings for one fingerprinted service: product.vulnerable (severity: the worst matching advisory's) when
// the version is in a range, product.unknown-version when the product has advisories but no version that can be
// placed; none otherwise.
std::vector<Finding> product_findings(const std::string& target, const std::string& product, const std::string& version);

}  // namespace dg::scan
