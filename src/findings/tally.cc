#include "findings/tally.h"

#include <fmt/format.h>

namespace dg {

void Tally::add(const Record& r) {
  ++subjects_;
  ++status_[r.status];
  if (r.status == "error") ++errors_;
  for (const Finding& f : r.findings) ++sev_[f.severity];
}

bool Tally::failed(Severity fail_on) const {
  for (const auto& [s, n] : sev_)
    if (s >= fail_on && n) return true;
  return false;
}

nlohmann::json Tally::summary() const {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  nlohmann::json st = nlohmann::json::object(), sv = nlohmann::json::object();
  for (const auto& [k, n] : status_) st[k] = n;
  for (Severity s : {Severity::critical, Severity::high, Severity::medium, Severity::low, Severity::info})
    sv[std::string(to_string(s))] = sev_.count(s) ? sev_.at(s) : 0;
  return nlohmann::json{{"type", "summary"}, {"command", command_}, {noun_, subjects_}, {"status", st},
                        {"findings", sv}, {"errors", errors_}, {"seconds", secs}, {"subjects", subjects_}};
}

}  // namespace dg
