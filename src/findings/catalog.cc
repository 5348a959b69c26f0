#include "findings/catalog.h"

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "findings/finding.h"

namespace dg {

extern const std::string_view kCatalogJson;  // generated from data/checks.json

Catalog Catalog::parse(std::string_view text) {
  Catalog c;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("check catalog is not valid JSON: ") + e.what());
  }
  std::set<std::string> seen;
  for (const auto& j : doc.at("checks")) {
    CheckInfo ci;
    ci.id = j.at("id").get<std::string>();
    auto sev = parse_severity(j.at("severity").get<std::string>());
    if (!sev) throw std::runtime_error("check catalog: bad severity for " + ci.id);
    if (!seen.insert(ci.id).second) throw std::runtime_error("check catalog: duplicate id " + ci.id);
    ci.severity = *sev;
    ci.title = j.at("title").get<std::string>();
    ci.why = j.at("why").get<std::string>();
    ci.fix = j.at("fix").get<std::string>();
    ci.nist = j.value("nist", std::vector<std::string>{});
    ci.attack = j.value("attack", std::vector<std::string>{});
    ci.mnp = j.value("mnp", "");
    c.checks_.push_back(std::move(ci));
  }
  return c;
}

const Catalog& Catalog::builtin() {
  static const Catalog c = parse(kCatalogJson);
  return c;
}

const CheckInfo* Catalog::find(std::string_view id) const {
  for (const auto& c : checks_)
    if (c.id == id) return &c;
  return nullptr;
}

Finding make_finding(std::string_view check, std::string target, nlohmann::json evidence, std::string title) {
  const CheckInfo* ci = Catalog::builtin().find(check);
  if (!ci) throw std::logic_error("finding for a check missing from the catalog: " + std::string(check));
  return Finding{ci->id, ci->severity, std::move(target), title.empty() ? ci->title : std::move(title),
                 std::move(evidence)};
}

}  // namespace dg
