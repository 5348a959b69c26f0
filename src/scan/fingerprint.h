// Names the product behind an association from its Implementation Class UID and Version Name, using the table
// in data/implementations.json (embedded at build time).
#pragma once

#include <string>

namespace dg::scan {

struct Product {
  std::string vendor, product, version;  // empty when unknown
  bool known() const { return !product.empty(); }
};
Product fingerprint(const std::string& implementation_uid, const std::string& implementation_version);

}  // namespace dg::scan
