#include "report/results.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
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

namespace {

bool parse(const std::string& line, nlohmann::json& j, Results& r) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return false;
  j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    ++r.skipped_lines;
    return false;
  }
  return true;
}

std::string str(const nlohmann::json& j, const char* k) {
  auto it = j.find(k);
  if (it == j.end()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void add_json(nlohmann::json j, Results& r, const std::string& observed_by = {});

}  // namespace

std::string service_target(const nlohmann::json& s) {
  const std::string a = s.value("address", "");
  const std::string port = std::to_string(s.value("port", 0));
  return a.find(':') != std::string::npos ? "[" + a + "]:" + port : a + ":" + port;
}

std::string subject_key(const nlohmann::json& j) {
  const std::string type = str(j, "type");
  if (type == "finding") return {};
  if (type == "service" || type == "tls" || type == "ntp") {
    const std::string addr = str(j, "address"), port = str(j, "port");
    const std::string where = addr.empty() ? str(j, "target") : addr + "|" + port;
    if (!where.empty()) return type + "|" + str(j, "source") + "|" + where;
  } else if (type == "clock") {
    if (const std::string a = str(j, "address"); !a.empty()) return "clock|" + a;
  } else if (type == "file" || type == "verify" || type == "sanitize" || type == "deid" || type == "weblog") {
    if (const std::string p = str(j, "path"); !p.empty()) return type + "|" + p + "|" + str(j, "path_bytes");
  }
  nlohmann::json copy = j;  // anything else is the same subject only when it is the same record
  if (type != "summary") copy.erase("shard");  // the summaries of two shards are two
  return "=" + type + "|" + copy.dump();
}

void add_line(const std::string& line, Results& r) {
  nlohmann::json j;
  if (parse(line, j, r)) add_json(std::move(j), r);
}

namespace {
// observed_by: the "source|addr:port" of the search engine's record a finding follows, else empty.
void add_json(nlohmann::json j, Results& r, const std::string& observed_by) {
  const std::string type = j["type"];
  if (type == "finding" && !observed_by.empty()) {
    const std::string check = j.value("check", "");
    r.observed_checks[observed_by].insert(check);
    if (check != "exposure.internet") return;
  }
  if (type == "service" && j.contains("source")) r.observed.push_back(std::move(j));
  else if (type == "service") r.services.push_back(std::move(j));
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
    // shodan --verify: the scan it ran is in its summary's "verify".
    if (cmd == "shodan" && j.contains("verify") && j["verify"].is_object() && j["verify"].contains("mode")) {
      r.commands.insert("scan");
      if (j["verify"].value("mode", "") == "assess") r.scan_assessed = true;
    }
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

// A record and the findings that follow it in its input.
struct Unit {
  nlohmann::json record;
  std::vector<nlohmann::json> findings;
};

void note_shard(const nlohmann::json& summary, Results& r) {
  const std::string s = str(summary, "shard");
  unsigned i = 0, n = 0;
  char extra = 0;
  if (s.empty() || std::sscanf(s.c_str(), "%u/%u%c", &i, &n, &extra) != 2 || n == 0 || i >= n) return;
  r.shards[str(summary, "command")][n].insert(i);
}
}  // namespace

std::vector<std::string> Results::missing_shards() const {
  std::vector<std::string> out;
  for (const auto& [command, by_n] : shards)
    for (const auto& [n, have] : by_n) {
      std::string missing;
      std::uint32_t count = 0;
      for (std::uint32_t i = 0; i < n; ++i)
        if (!have.count(i)) {
          if (++count <= 8) missing += (missing.empty() ? "" : ", ") + std::to_string(i) + "/" + std::to_string(n);
        }
      if (count > 8) missing += ", ...";
      if (count)
        out.push_back(command + ": " + std::to_string(count) + " of " + std::to_string(n) + " shards missing (" +
                      missing + ")");
    }
  return out;
}

std::string load(const std::vector<std::string>& paths, Results& r) {
  std::vector<Unit> units;
  std::map<std::string, std::size_t> by_subject;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return "cannot read " + p;
    r.inputs.push_back(p);
    std::string line;
    std::size_t open = SIZE_MAX;  // the unit this input's findings attach to
    // Identical records within one input are distinct (two audit messages alike): the k-th of them matches the
    // k-th identical record of another input.
    std::map<std::string, int> repeats;
    while (std::getline(in, line)) {
      nlohmann::json j;
      if (!parse(line, j, r)) continue;
      if (j["type"] == "finding") {
        if (open != SIZE_MAX) {
          units[open].findings.push_back(std::move(j));
          continue;
        }
        nlohmann::json bare = j;  // a finding with no record before it: merged when identical
        bare.erase("shard");
        std::string key = "finding|" + bare.dump();
        key += "#" + std::to_string(repeats[key]++);
        if (by_subject.count(key)) {
          ++r.duplicates;
          continue;
        }
        by_subject[key] = units.size();
        units.push_back({std::move(j), {}});
        continue;
      }
      if (j["type"] == "summary") note_shard(j, r);
      std::string key = subject_key(j);
      if (key[0] == '=') key += "#" + std::to_string(repeats[key]++);
      auto [it, fresh] = by_subject.emplace(key, units.size());
      if (fresh) {
        units.push_back({std::move(j), {}});
      } else {
        ++r.duplicates;
        units[it->second] = {std::move(j), {}};  // the later input's record and findings replace the earlier
      }
      open = it->second;
    }
    if (in.bad()) return "error while reading " + p;
  }
  for (Unit& u : units) {
    std::string observed_by;
    if (str(u.record, "type") == "service" && u.record.contains("source"))
      observed_by = str(u.record, "source") + "|" + service_target(u.record);
    add_json(std::move(u.record), r);
    for (auto& f : u.findings) add_json(std::move(f), r, observed_by);
  }
  // One order whatever order the inputs came in (a scan writes services as they answer; shards interleave):
  // by address and port, files by path.
  const auto by_endpoint = [](const nlohmann::json& a, const nlohmann::json& b) {
    const std::string aa = str(a, "address"), ba = str(b, "address");
    if (aa != ba) return aa < ba;
    return a.value("port", 0) < b.value("port", 0);
  };
  const auto by_path = [](const nlohmann::json& a, const nlohmann::json& b) { return str(a, "path") < str(b, "path"); };
  for (auto* v : {&r.services, &r.observed, &r.tls, &r.clocks, &r.ntp}) std::stable_sort(v->begin(), v->end(), by_endpoint);
  for (auto* v : {&r.files, &r.verified}) std::stable_sort(v->begin(), v->end(), by_path);
  return {};
}

}  // namespace dg::report

namespace dg::report {

std::string target_host(const std::string& t) {
  if (!t.empty() && t[0] == '[') {
    const auto close = t.find(']');
    return close == std::string::npos ? t : t.substr(1, close - 1);
  }
  const auto colon = t.find(':');
  if (colon != std::string::npos && t.find(':', colon + 1) == std::string::npos && t.find('/') == std::string::npos)
    return t.substr(0, colon);
  return t;
}

namespace {
bool names(const nlohmann::json& j, const std::set<std::string>& who, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (const auto it = j.find(k); it != j.end() && it->is_string() && who.count(it->get<std::string>())) return true;
  return false;
}
}  // namespace

bool only_host(const Results& r, const std::string& host, const std::set<int>& ports, bool keep_files, Results& out) {
  out = Results{};
  // The device's addresses, and every name its records give it (audit messages may name it either way).
  std::set<std::string> addresses, who{host};
  for (const auto* v : {&r.services, &r.tls, &r.clocks, &r.ntp, &r.observed})
    for (const auto& j : *v)
      if (names(j, {host}, {"address", "host"})) addresses.insert(str(j, "address"));
  if (addresses.empty()) addresses.insert(host);
  for (const auto* v : {&r.services, &r.tls})
    for (const auto& j : *v)
      if (addresses.count(str(j, "address")) && j.contains("host") && j["host"].is_string()) who.insert(j["host"].get<std::string>());
  who.insert(addresses.begin(), addresses.end());
  bool any = false;
  const auto take = [&](const std::vector<nlohmann::json>& from, std::vector<nlohmann::json>& to,
                        std::initializer_list<const char*> keys, const std::set<std::string>& ids) {
    for (const auto& j : from)
      if (names(j, ids, keys)) {
        to.push_back(j);
        any = true;
      }
  };
  const auto on_port = [&](const nlohmann::json& j) { return ports.empty() || ports.count(j.value("port", 0)); };
  for (const auto* v : {&r.services, &r.tls, &r.observed}) {
    auto& to = v == &r.services ? out.services : v == &r.tls ? out.tls : out.observed;
    for (const auto& j : *v)
      if (names(j, addresses, {"address"}) && on_port(j)) {
        to.push_back(j);
        any = true;
      }
  }
  if (!ports.empty() && !any) return false;
  take(r.clocks, out.clocks, {"address"}, addresses);
  take(r.ntp, out.ntp, {"address"}, addresses);
  take(r.audit, out.audit, {"sender", "hostname", "source_id"}, who);
  if (!any) return false;
  if (keep_files) {
    out.files = r.files;
    out.verified = r.verified;
  }
  std::set<std::string> paths;  // file findings name the file's path
  if (keep_files)
    for (const auto* v : {&r.files, &r.verified})
      for (const auto& j : *v) paths.insert(str(j, "path"));
  for (const auto& f : r.findings) {
    const std::string target = f.value("target", ""), check = f.value("check", "");
    if (!who.count(target_host(target)) && !paths.count(target)) continue;
    if (!ports.empty() && target_host(target) != target) {  // a service's or TLS endpoint's finding: its port
      const auto colon = target.rfind(':');
      if (!ports.count(std::atoi(target.c_str() + colon + 1))) continue;
    }
    out.checks_by_target[target].insert(check);
    ++out.check_count[check];
    out.findings.push_back(f);
  }
  for (const auto& [k, ids] : r.observed_checks)
    if (const std::string t = k.substr(k.find('|') + 1); who.count(target_host(t)) &&
        (ports.empty() || ports.count(std::atoi(t.c_str() + t.rfind(':') + 1))))
      out.observed_checks[k] = ids;
  out.summaries = r.summaries;
  out.commands = r.commands;
  out.scan_assessed = r.scan_assessed;
  out.inputs = r.inputs;
  out.shards = r.shards;
  return true;
}

std::vector<std::string> hosts(const Results& r) {
  std::set<std::string> out;
  for (const auto* v : {&r.services, &r.tls, &r.clocks, &r.ntp})
    for (const auto& j : *v)
      if (const std::string a = str(j, "address"); !a.empty()) out.insert(a);
  for (const auto& a : r.audit)
    if (const std::string s = str(a, "sender"); !s.empty()) out.insert(s);
  return {out.begin(), out.end()};
}

}  // namespace dg::report
