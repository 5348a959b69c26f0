#include "explain/values.h"

#include <set>

#include "findings/severity.h"

namespace dg::explain {

namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

bool at_least_medium(const std::string& sev) {
  const auto s = parse_severity(sev);
  return s && *s >= Severity::medium;
}

}  // namespace

Values measure(const report::Results& r) {
  Values v;
  v.has_results = true;
  auto& c = v.counts;
  for (const auto& n : count_names()) c[n] = 0;

  std::set<std::string> hosts;
  for (const auto& s : r.services) {
    hosts.insert(s.value("address", ""));
    const std::string proto = s.value("protocol", "");
    if (proto == "dimse-tls" || proto == "https") ++c["tls_services"];
  }
  c["services"] = r.services.size();
  c["hosts"] = hosts.size();
  v.lists["hosts_list"] = {hosts.begin(), hosts.end()};

  // "Services with X": the distinct targets (address:port) of X's findings. Findings that follow a search
  // engine's record are not in r.findings (report/results keeps them apart), except exposure.internet.
  std::map<std::string, std::set<std::string>> targets;  // name -> targets
  for (const auto& f : r.findings) {
    const std::string check = f.value("check", ""), target = f.value("target", ""), sev = f.value("severity", "");
    if (sev == "critical") ++c["critical"];
    if (sev == "high") ++c["high"];
    if (starts_with(check, "audit.")) ++c["audit_problems"];
    auto mark = [&](const char* name) { targets[name].insert(target); };
    if (check == "dimse.plaintext" || check == "http.plaintext") mark("plaintext");
    if (check == "dimse.ae.any-called") mark("any_ae");
    if (check == "dimse.query.open" || check == "http.dicomweb.open" || check == "http.orthanc.open" ||
        check == "http.patient-list.open")
      mark("query_open");
    if (check == "dimse.retrieve.open" || check == "dimse.move.any-destination") mark("retrieve_open");
    if (check == "dimse.store.open") mark("store_open");
    if (starts_with(check, "tls.") && at_least_medium(sev)) mark("tls_weak");
    if (starts_with(check, "tls.cert.")) mark("cert_problems");
    if (check == "product.vulnerable") mark("vulnerable");
    if (check == "exposure.internet") mark("internet");
  }
  for (const auto& [name, ids] : targets) c[name] = ids.size();
  v.lists["query_open_hosts"] = {targets["query_open"].begin(), targets["query_open"].end()};
  v.lists["plaintext_hosts"] = {targets["plaintext"].begin(), targets["plaintext"].end()};

  c["files"] = r.files.size();
  for (const auto& f : r.files) {
    if (!f.contains("checks") || !f["checks"].is_array()) continue;
    for (const auto& id : f["checks"]) {
      const std::string check = id.is_string() ? id.get<std::string>() : "";
      if (check == "file.preamble.executable" || starts_with(check, "file.payload.") ||
          check == "file.polyglot.document" || check == "file.encapsulated.active") {
        ++c["files_flagged"];
        break;
      }
    }
  }
  return v;
}

}  // namespace dg::explain
