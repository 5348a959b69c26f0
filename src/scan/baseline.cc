#include "scan/baseline.h"

#include <cstring>
#include <fstream>

namespace dg::scan {

std::string load_baseline(const std::string& path, ServiceMap& out) {
  std::ifstream in(path);
  if (!in) return "cannot read baseline '" + path + "': " + std::strerror(errno);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type"))
      return path + ":" + std::to_string(n) + ": not a dicomguard JSON Lines record";
    const std::string type = j.value("type", "");
    if (type == "service" && j.contains("address") && j.contains("port")) {
      const std::string addr = j.value("address", "");
      const int port = j.value("port", 0);
      const std::string t = addr.find(':') != std::string::npos ? "[" + addr + "]:" + std::to_string(port)
                                                                : addr + ":" + std::to_string(port);
      ServiceState& s = out[t];
      s.protocol = j.value("protocol", "");
      s.exposure = j.value("exposure", "");
    } else if (type == "finding" && j.contains("target") && j.contains("check")) {
      const std::string t = j.value("target", "");
      if (t.find(':') != std::string::npos) out[t].checks.insert(j.value("check", ""));
    }
  }
  for (auto it = out.begin(); it != out.end();) it = it->second.protocol.empty() ? out.erase(it) : std::next(it);
  return {};
}

std::string load_baseline(const std::vector<std::string>& paths, ServiceMap& out) {
  for (const std::string& p : paths) {
    ServiceMap one;
    if (std::string e = load_baseline(p, one); !e.empty()) return e;
    for (auto& [target, state] : one) out[target] = std::move(state);
  }
  return {};
}

void add_state(ServiceMap& m, const Record& r) {
  if (r.type != "service") return;
  const std::string addr = r.fields.value("address", ""), port = std::to_string(r.fields.value("port", 0));
  const std::string target = addr.find(':') != std::string::npos ? "[" + addr + "]:" + port : addr + ":" + port;
  ServiceState& s = m[target];
  s.protocol = r.fields.value("protocol", "");
  s.exposure = r.fields.value("exposure", "");
  for (const Finding& f : r.findings) s.checks.insert(f.check);
}

}  // namespace dg::scan
