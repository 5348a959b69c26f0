#include "scan/fingerprint.h"

#include <nlohmann/json.hpp>
#include <regex>
#include <vector>

#include "scan/dimse_probe.h"

namespace dg::scan {

extern const std::string_view kImplementationsJson;

namespace {
struct Entry {
  std::string uid_prefix, vendor, product, version_format;
  std::regex version_regex;
  bool has_regex = false, name_identifies = false;
};
const std::vector<Entry>& table() {
  static const std::vector<Entry> t = [] {
    std::vector<Entry> v;
    const auto j = nlohmann::json::parse(kImplementationsJson);
    for (const auto& e : j.at("entries")) {
      const bool has = e.contains("version_regex") && e["version_regex"].is_string();
      v.push_back({e.at("uid_prefix"), e.at("vendor"), e.at("product"), e.value("version_format", ""),
                   std::regex(has ? e["version_regex"].get<std::string>() : std::string("^$")), has,
                   e.value("name_identifies", false)});
    }
    return v;
  }();
  return t;
}

// A prefix matches at a component boundary: "1.2.3" matches "1.2.3" and "1.2.3.4", not "1.2.34".
bool prefix_matches(const std::string& uid, const std::string& prefix) {
  if (uid.rfind(prefix, 0) != 0) return false;
  return prefix.empty() || prefix.back() == '.' || uid.size() == prefix.size() || uid[prefix.size()] == '.';
}

std::string version_of(const Entry& e, const std::smatch& m) {
  std::string out = e.version_format;
  for (std::size_t i = 1; i < m.size() && i < 10; ++i) {
    const std::string key = "{" + std::to_string(i) + "}";
    for (auto at = out.find(key); at != std::string::npos; at = out.find(key)) out.replace(at, key.size(), m[i]);
  }
  return out;
}
}  // namespace

Product fingerprint(const std::string& uid, const std::string& version) {
  if (uid == kImplementationUid && version == kImplementationVersion) return {{}, {}, {}, {}, true};
  // The longest matching prefix; among entries with that prefix, the first whose version name matches.
  std::size_t best_len = 0;
  const Entry* best = nullptr;
  bool best_named = false;
  std::smatch best_m;
  for (const Entry& e : table()) {
    if (uid.empty() || !prefix_matches(uid, e.uid_prefix)) continue;
    std::smatch m;
    const bool named = e.has_regex && std::regex_search(version, m, e.version_regex);
    if (!best || e.uid_prefix.size() > best_len || (e.uid_prefix.size() == best_len && named && !best_named)) {
      best = &e;
      best_len = e.uid_prefix.size();
      best_named = named;
      best_m = m;
    }
  }
  if (best) return {best->vendor, best->product, best_named ? version_of(*best, best_m) : std::string(), "uid"};
  // No UID entry: a toolkit's own version name, kept by products that replaced its UID.
  if (!version.empty())
    for (const Entry& e : table()) {
      std::smatch m;
      if (e.name_identifies && std::regex_search(version, m, e.version_regex))
        return {e.vendor, e.product + " (named by its version name; the implementation UID is another)", version_of(e, m),
                "version-name"};
    }
  return {};
}

}  // namespace dg::scan
