#include "scan/fingerprint.h"

#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <vector>

#include "scan/dimse_probe.h"

namespace dg::scan {

extern const std::string_view kImplementationsJson;

namespace {
struct Entry {
  std::string uid_prefix, vendor, product, version_format, pattern;
  bool has_regex = false, name_identifies = false;
  // Compiled on first use: std::regex takes about 30 us per pattern, and a scan of one product needs few of them
  // (compiling the whole table was a tenth of a short scan's start).
  mutable std::once_flag compiled;
  mutable std::regex re;
  bool search(const std::string& version, std::smatch& m) const {
    if (!has_regex) return false;
    std::call_once(compiled, [this] { re = std::regex(pattern); });
    return std::regex_search(version, m, re);
  }
};
const std::deque<Entry>& table() {
  static const std::deque<Entry> t = [] {
    std::deque<Entry> v;  // a deque: Entry holds a once_flag, which cannot move
    const auto j = nlohmann::json::parse(kImplementationsJson);
    for (const auto& e : j.at("entries")) {
      Entry& x = v.emplace_back();
      x.uid_prefix = e.at("uid_prefix");
      x.vendor = e.at("vendor");
      x.product = e.at("product");
      x.version_format = e.value("version_format", "");
      x.has_regex = e.contains("version_regex") && e["version_regex"].is_string();
      if (x.has_regex) x.pattern = e["version_regex"].get<std::string>();
      x.name_identifies = e.value("name_identifies", false);
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

Product identify(const std::string& uid, const std::string& version) {
  if (uid == kImplementationUid && version == kImplementationVersion) return {{}, {}, {}, {}, true};
  // The longest matching prefix; among entries with that prefix, the first whose version name matches.
  std::size_t best_len = 0;
  const Entry* best = nullptr;
  bool best_named = false;
  std::smatch best_m;
  for (const Entry& e : table()) {
    if (uid.empty() || !prefix_matches(uid, e.uid_prefix)) continue;
    std::smatch m;
    const bool named = e.search(version, m);
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
      if (e.name_identifies && e.search(version, m))
        return {e.vendor, e.product + " (named by its version name; the implementation UID is another)", version_of(e, m),
                "version-name"};
    }
  return {};
}
}  // namespace

// A scan of thousands of listeners meets few implementations: the answer for each UID and version name is kept
// (at most 4,096 pairs; more are worked out again), so the table's regular expressions run once per pair.
Product fingerprint(const std::string& uid, const std::string& version) {
  static std::mutex mu;
  static std::map<std::string, Product, std::less<>> cache;
  constexpr std::size_t kMaxCached = 4096;
  std::string key = uid;
  key.push_back('\0');
  key += version;
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  Product p = identify(uid, version);
  std::lock_guard lk(mu);
  if (cache.size() < kMaxCached) cache.emplace(std::move(key), p);
  return p;
}

}  // namespace dg::scan
