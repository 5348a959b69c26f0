#include "cli/summary.h"

#include <fmt/format.h>

namespace dg::cli {

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
  std::string by_status;
  for (const auto& [k, n] : status_) by_status += fmt::format("{}{} {}", by_status.empty() ? "" : ", ", n, k);
  std::string by_sev;
  for (Severity s : {Severity::critical, Severity::high, Severity::medium, Severity::low, Severity::info})
    if (sev_.count(s)) by_sev += fmt::format("{}{} {}", by_sev.empty() ? "" : ", ", sev_.at(s), to_string(s));
  std::string noun = noun_;
  if (subjects_ == 1 && !noun.empty() && noun.back() == 's') noun.pop_back();
  std::string line = fmt::format("{} {} in {:.2f} s", subjects_, noun, secs);
  if (secs >= 0.5) line += fmt::format(" ({:.0f}/s)", static_cast<double>(subjects_) / secs);
  line += ": " + (by_status.empty() ? std::string("nothing") : by_status);
  line += by_sev.empty() ? "; no findings" : "; findings: " + by_sev;
  if (errors_) line += fmt::format("; {} could not be read", errors_);
  return nlohmann::json{{"type", "summary"}, {"command", command_}, {noun_, subjects_}, {"status", st},
                        {"findings", sv}, {"errors", errors_}, {"seconds", secs}, {"line", line}};
}

}  // namespace dg::cli
