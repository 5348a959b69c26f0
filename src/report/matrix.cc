#include "report/matrix.h"

#include <nlohmann/json.hpp>

namespace dg::report {

extern const std::string_view kThreatMatrixJson;

const Matrix& threat_matrix() {
  static const Matrix m = [] {
    Matrix out;
    const auto j = nlohmann::json::parse(kThreatMatrixJson);
    out.title = j.value("title", "DICOM threat matrix");
    out.source = j.value("source", "");
    for (const auto& t : j.at("tactics")) out.tactics.push_back({t.at("id"), t.at("name"), t.value("attack", "")});
    for (const auto& t : j.at("techniques"))
      out.techniques.push_back({t.at("id"), t.at("tactic"), t.at("name"), t.value("summary", ""),
                                t.value("not_covered", ""), t.value("attack", std::vector<std::string>{}),
                                t.value("checks", std::vector<std::string>{})});
    return out;
  }();
  return m;
}

bool measured(const std::string& check, const Results& r) {
  auto starts = [&](const char* p) { return check.rfind(p, 0) == 0; };
  if (starts("file.")) return !r.files.empty();
  if (starts("tls.")) return !r.tls.empty();
  if (check == "dimse.query.open" || check == "dimse.retrieve.open" || check == "dimse.store.open")
    return r.scan_assessed && !r.services.empty();
  if (starts("dimse.") || starts("http.")) return r.commands.count("scan") && !r.services.empty();
  return false;
}

const char* state_name(TechniqueState s) {
  switch (s) {
    case TechniqueState::exposed: return "exposed";
    case TechniqueState::not_seen: return "not-seen";
    case TechniqueState::not_measured: return "not-measured";
    case TechniqueState::not_covered: return "not-covered";
  }
  return "not-measured";
}

const char* state_label(TechniqueState s) {
  switch (s) {
    case TechniqueState::exposed: return "exposed";
    case TechniqueState::not_seen: return "not seen";
    case TechniqueState::not_measured: return "not measured";
    case TechniqueState::not_covered: return "no check yet";
  }
  return "not measured";
}

TechniqueState technique_state(const Technique& t, const Results& r) {
  if (t.checks.empty()) return TechniqueState::not_covered;
  bool any_measured = false;
  for (const auto& c : t.checks) {
    if (r.has(c)) return TechniqueState::exposed;
    any_measured = any_measured || measured(c, r);
  }
  return any_measured ? TechniqueState::not_seen : TechniqueState::not_measured;
}

}  // namespace dg::report
