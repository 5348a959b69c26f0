// Names the product behind an association from its Implementation Class UID and Version Name, using the table
// in data/implementations.json (embedded at build time; its "about" says how entries are matched).
#pragma once

#include <string>

namespace dg::scan {

struct Product {
  std::string vendor, product, version;  // empty when unknown
  std::string basis;                     // "uid", or "version-name" when only the version name matched a toolkit
  bool echoes_requester = false;         // the server sent back our own identity: it names nothing
  bool known() const { return !product.empty(); }
};
Product fingerprint(const std::string& implementation_uid, const std::string& implementation_version);

}  // namespace dg::scan
