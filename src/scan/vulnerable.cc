#include "scan/vulnerable.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace dg::scan {

extern const std::string_view kVulnerabilitiesJson;

std::optional<std::vector<std::uint64_t>> parse_version(std::string_view v) {
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) return std::nullopt;
  std::vector<std::uint64_t> parts;
  std::size_t i = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
    std::uint64_t n = 0;
    for (; i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])); ++i)
      n = std::min<std::uint64_t>(n * 10 + static_cast<std::uint64_t>(v[i] - '0'), 1'000'000'000'000ULL);
    parts.push_back(n);
    // Another component only when a dot is followed by a digit ("3.0.4.dev0" stops before "dev0").
    if (i + 1 < v.size() && v[i] == '.' && std::isdigit(static_cast<unsigned char>(v[i + 1]))) ++i;
    else break;
  }
  return parts;
}

int compare_versions(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::uint64_t x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

namespace {
int cmp(const std::vector<std::uint64_t>& v, const std::string& bound) {
  return compare_versions(v, *parse_version(bound));  // bounds were checked when the table was parsed
}
}  // namespace

bool VersionRange::contains(const std::vector<std::uint64_t>& v) const {
  if (!introduced.empty() && cmp(v, introduced) < 0) return false;
  if (!fixed.empty() && cmp(v, fixed) >= 0) return false;
  if (!last_affected.empty() && cmp(v, last_affected) > 0) return false;
  return true;
}

bool Advisory::affects(const std::vector<std::uint64_t>& v) const {
  return std::any_of(affected.begin(), affected.end(), [&v](const VersionRange& r) { return r.contains(v); });
}

std::vector<Advisory> parse_advisories(std::string_view text) {
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array())
    throw std::runtime_error("vulnerabilities: not an object with an \"entries\" array");
  std::vector<Advisory> out;
  for (const auto& e : doc["entries"]) {
    const std::string id = e.is_object() ? e.value("id", std::string()) : std::string();
    auto bad = [&id](const std::string& why) { return std::runtime_error("vulnerabilities: entry '" + id + "': " + why); };
    auto str = [&](const char* key) {
      if (!e.contains(key) || !e[key].is_string() || e[key].get<std::string>().empty()) throw bad(std::string("no ") + key);
      return e[key].get<std::string>();
    };
    Advisory a;
    a.id = str("id");
    a.product = str("product");
    a.impact = str("impact");
    a.source = str("source");
    a.cvss = str("cvss");
    if (a.source.rfind("https://", 0) != 0) throw bad("source is not an https URL");
    const auto sev = parse_severity(str("severity"));
    if (!sev) throw bad("unknown severity");
    a.severity = *sev;
    if (!e.contains("fixed") || !(e["fixed"].is_null() || e["fixed"].is_string())) throw bad("fixed must be a version or null");
    if (e["fixed"].is_string()) a.fixed = e["fixed"].get<std::string>();
    if (!a.fixed.empty() && !parse_version(a.fixed)) throw bad("fixed is not a version");
    if (!e.contains("affected") || !e["affected"].is_array() || e["affected"].empty()) throw bad("no affected ranges");
    for (const auto& r : e["affected"]) {
      if (!r.is_object() || r.empty()) throw bad("a range must be an object with introduced, fixed or last_affected");
      VersionRange vr;
      for (auto it = r.begin(); it != r.end(); ++it) {
        const std::string k = it.key();
        if (!it.value().is_string() || !parse_version(it.value().get<std::string>()))
          throw bad("range bound '" + k + "' is not a version");
        const std::string v = it.value().get<std::string>();
        if (k == "introduced") vr.introduced = v;
        else if (k == "fixed") vr.fixed = v;
        else if (k == "last_affected") vr.last_affected = v;
        else throw bad("unknown range key '" + k + "'");
      }
      if (!vr.fixed.empty() && !vr.last_affected.empty()) throw bad("a range has fixed or last_affected, not both");
      if (!vr.introduced.empty() && !vr.fixed.empty() &&
          compare_versions(*parse_version(vr.introduced), *parse_version(vr.fixed)) >= 0)
        throw bad("introduced is not before fixed");
      a.affected.push_back(vr);
    }
    out.push_back(std::move(a));
  }
  return out;
}

const std::vector<Advisory>& advisories() {
  static const std::vector<Advisory> table = parse_advisories(kVulnerabilitiesJson);
  return table;
}

std::string advisory_product(std::string_view p) {
  const auto at = p.find(" (named by its version name");
  return std::string(at == std::string_view::npos ? p : p.substr(0, at));
}

std::vector<const Advisory*> for_product(std::string_view product) {
  const std::string name = advisory_product(product);
  std::vector<const Advisory*> out;
  for (const Advisory& a : advisories())
    if (a.product == name) out.push_back(&a);
  return out;
}

std::vector<const Advisory*> lookup(std::string_view product, std::string_view version) {
  std::vector<const Advisory*> out;
  const auto v = parse_version(version);
  if (!v) return out;
  for (const Advisory* a : for_product(product))
    if (a->affects(*v)) out.push_back(a);
  return out;
}

namespace {
// The findings with an empty target: product_findings copies them with each service's.
std::vector<Finding> build_product_findings(const std::string& product, const std::string& version) {
  std::vector<Finding> out;
  const auto all = for_product(product);
  if (all.empty()) return out;
  const std::string name = advisory_product(product);
  if (!parse_version(version)) {
    out.push_back(make_finding(
        "product.unknown-version", {},
        {{"product", name}, {"version", version}, {"advisories", all.size()},
         {"note", "the service did not announce a version that can be compared, so the published advisories for this "
                  "product cannot be ruled in or out"}},
        fmt::format("{} without a comparable version: {} published advisor{} cannot be checked", name, all.size(),
                    all.size() == 1 ? "y" : "ies")));
    return out;
  }
  const auto hits = lookup(product, version);
  if (hits.empty()) return out;
  Severity worst = Severity::info;
  nlohmann::json list = nlohmann::json::array(), ids = nlohmann::json::array();
  std::optional<std::vector<std::uint64_t>> fixes_all = std::vector<std::uint64_t>{};
  std::string fixes_all_text;
  for (const Advisory* a : hits) {
    worst = std::max(worst, a->severity);
    ids.push_back(a->id);
    nlohmann::json j{{"id", a->id}, {"severity", to_string(a->severity)}, {"impact", a->impact}, {"source", a->source}};
    if (!a->fixed.empty()) j["fixed"] = a->fixed;
    list.push_back(j);
    if (a->fixed.empty()) fixes_all.reset();  // one advisory has no fixed release: no upgrade fixes them all
    else if (fixes_all && compare_versions(*parse_version(a->fixed), *fixes_all) > 0) {
      fixes_all = parse_version(a->fixed);
      fixes_all_text = a->fixed;
    }
  }
  nlohmann::json ev{{"product", name}, {"version", version}, {"ids", ids}, {"advisories", list},
                    {"note", "the announced version is in the affected range of these advisories; a distribution "
                             "that backports fixes announces the same version, so check the installed package"}};
  if (fixes_all && !fixes_all_text.empty()) ev["fixed_in"] = fixes_all_text;
  std::string named;  // the first three IDs, for people reading the text output
  for (std::size_t i = 0; i < hits.size() && i < 3; ++i) named += (i ? ", " : "") + hits[i]->id;
  if (hits.size() > 3) named += fmt::format(" and {} more", hits.size() - 3);
  Finding f = make_finding(
      "product.vulnerable", {}, ev,
      fmt::format("{} {} is in the affected range of {} published advisor{}: {}{}", name, version, hits.size(),
                  hits.size() == 1 ? "y" : "ies", named,
                  ev.contains("fixed_in") ? " (all fixed in " + fixes_all_text + ")" : std::string(" (not all have a fixed release)")));
  f.severity = worst;
  out.push_back(std::move(f));
  return out;
}
}  // namespace

// The findings depend only on the product and version: a scan of thousands of listeners of the same build
// builds them once (they took 8 % of a --discover run's CPU) and copies them with each service's target.
std::vector<Finding> product_findings(const std::string& target, const std::string& product, const std::string& version) {
  if (product.empty()) return {};
  static std::mutex mu;
  static std::map<std::string, std::vector<Finding>, std::less<>> cache;
  constexpr std::size_t kMaxCached = 4096;  // product/version pairs kept (those with findings); more are rebuilt
  std::string key = product;
  key.push_back('\0');
  key += version;
  std::vector<Finding> out;
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(key); it != cache.end()) out = it->second;
  }
  if (out.empty()) {
    out = build_product_findings(product, version);
    std::lock_guard lk(mu);
    if (!out.empty() && cache.size() < kMaxCached) cache.emplace(std::move(key), out);
  }
  for (Finding& f : out) f.target = target;
  return out;
}

}  // namespace dg::scan
