#include "scan/fingerprint.h"

#include <nlohmann/json.hpp>
#include <regex>
#include <vector>

namespace dg::scan {

extern const std::string_view kImplementationsJson;

namespace {
struct Entry {
  std::string uid_prefix, vendor, product, version_format;
  std::regex version_regex;
};
const std::vector<Entry>& table() {
  static const std::vector<Entry> t = [] {
    std::vector<Entry> v;
    const auto j = nlohmann::json::parse(kImplementationsJson);
    for (const auto& e : j.at("entries"))
      v.push_back({e.at("uid_prefix"), e.at("vendor"), e.at("product"), e.value("version_format", ""),
                   std::regex(e.value("version_regex", std::string("^$")))});
    return v;
  }();
  return t;
}
}  // namespace

Product fingerprint(const std::string& uid, const std::string& version) {
  const Entry* best = nullptr;
  for (const Entry& e : table())
    if (uid.rfind(e.uid_prefix, 0) == 0 && (!best || e.uid_prefix.size() > best->uid_prefix.size())) best = &e;
  if (!best) return {};
  Product p{best->vendor, best->product, {}};
  std::smatch m;
  if (std::regex_search(version, m, best->version_regex)) {
    std::string out = best->version_format;
    for (std::size_t i = 1; i < m.size() && i < 10; ++i) {
      const std::string key = "{" + std::to_string(i) + "}";
      for (auto at = out.find(key); at != std::string::npos; at = out.find(key)) out.replace(at, key.size(), m[i]);
    }
    p.version = out;
  }
  return p;
}

}  // namespace dg::scan
