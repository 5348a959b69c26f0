#include "report/results.h"

#include <fstream>

namespace dg::report {

std::vector<std::string> Results::targets_with(std::initializer_list<const char*> checks) const {
  std::vector<std::string> out;
  for (const auto& [target, ids] : checks_by_target)
    for (const char* c : checks)
      if (ids.count(c)) {
        out.push_back(target);
        break;
      }
  return out;
}

void add_line(const std::string& line, Results& r) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    ++r.skipped_lines;
    return;
  }
  const std::string type = j["type"];
  if (type == "service") r.services.push_back(std::move(j));
  else if (type == "tls") r.tls.push_back(std::move(j));
  else if (type == "file") r.files.push_back(std::move(j));
  else if (type == "verify") r.verified.push_back(std::move(j));
  else if (type == "audit") r.audit.push_back(std::move(j));
  else if (type == "clock") r.clocks.push_back(std::move(j));
  else if (type == "ntp") r.ntp.push_back(std::move(j));
  else if (type == "summary") {
    const std::string cmd = j.value("command", "");
    if (!cmd.empty()) r.commands.insert(cmd);
    if (cmd == "scan" && j.value("mode", "") == "assess") r.scan_assessed = true;
    r.summaries.push_back(std::move(j));
  } else if (type == "finding") {
    const std::string check = j.value("check", ""), target = j.value("target", "");
    if (check.empty()) {
      ++r.skipped_lines;
      return;
    }
    r.checks_by_target[target].insert(check);
    ++r.check_count[check];
    r.findings.push_back(std::move(j));
  }
}

std::string load(const std::vector<std::string>& paths, Results& r) {
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return "cannot read " + p;
    r.inputs.push_back(p);
    std::string line;
    while (std::getline(in, line)) add_line(line, r);
    if (in.bad()) return "error while reading " + p;
  }
  return {};
}

}  // namespace dg::report
