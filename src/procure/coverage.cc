#include "procure/coverage.h"

#include <fmt/format.h>

#include <algorithm>

namespace dg::procure {

namespace {

std::string plural(std::size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string list(const std::vector<std::string>& v, std::size_t max = 4) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > max) s += fmt::format(" and {} more", v.size() - max);
  return s;
}

bool is_dimse(const nlohmann::json& s) {
  const std::string p = s.value("protocol", "");
  return p == "dimse" || p == "dimse-tls";
}
bool is_http(const nlohmann::json& s) {
  const std::string p = s.value("protocol", "");
  return p == "http" || p == "https";
}
bool is_tls(const nlohmann::json& s) {
  const std::string p = s.value("protocol", "");
  return p == "dimse-tls" || p == "https";
}

std::vector<std::string> targets(const report::Results& r, bool (*keep)(const nlohmann::json&)) {
  std::vector<std::string> out;
  for (const auto& s : r.services)
    if (keep(s)) out.push_back(report::service_target(s));
  return out;
}

const std::vector<std::string> kKinds = {
    "scan-services", "scan-dimse", "assess-dimse", "assess-http", "assess-services", "move-probe",
    "default-credentials", "encryption", "tls-graded", "files", "verified", "weblog", "audit", "audit-expect",
    "clock", "internet", "none"};

Coverage one(const std::string& kind, const report::Results& r) {
  Coverage c;
  const bool scanned = r.commands.count("scan") > 0;
  const auto dimse = targets(r, is_dimse), http = targets(r, is_http);
  std::vector<std::string> services = dimse;
  services.insert(services.end(), http.begin(), http.end());
  const std::string no_scan = scanned ? "the scan found no DIMSE service" : "no scan in these results";
  const std::string discover = "the scan ran with --discover: queries, retrieves and storage were not tried";
  const auto scan_of = [&](const char* mode, const std::vector<std::string>& v, const char* one, const char* many) {
    return fmt::format("scan{} of {}: {}", mode, plural(v.size(), one, many), list(v));
  };
  c.commands = {"scan", "tls"};
  if (kind == "scan-services") {
    c.measured = scanned && !services.empty();
    c.what = scan_of("", services, "service", "services");
    c.why_not = scanned ? "the scan found no DICOM service" : "no scan in these results";
  } else if (kind == "scan-dimse") {
    c.measured = scanned && !dimse.empty();
    c.what = scan_of("", dimse, "DIMSE service", "DIMSE services");
    c.why_not = scanned ? "the scan found no DIMSE service" : "no scan in these results";
  } else if (kind == "assess-dimse" || kind == "assess-http" || kind == "assess-services") {
    const auto& v = kind == "assess-dimse" ? dimse : kind == "assess-http" ? http : services;
    const char* one = kind == "assess-dimse" ? "DIMSE service" : kind == "assess-http" ? "web service" : "service";
    const char* many = kind == "assess-dimse" ? "DIMSE services" : kind == "assess-http" ? "web services" : "services";
    c.measured = r.scan_assessed && !v.empty();
    c.what = scan_of(" (assess mode)", v, one, many);
    c.why_not = scanned && !r.scan_assessed ? discover
                : scanned ? fmt::format("the scan found no {}", one)
                          : std::string("no scan in these results");
  } else if (kind == "move-probe") {
    // Each DIMSE service either moved (or refused to move) our test object to the address we named, or would not
    // let a stranger ask: its C-MOVE refused, or no association of ours accepted.
    std::size_t probed = 0, shut = 0;
    for (const auto& s : r.services) {
      if (!is_dimse(s)) continue;
      bool accepted = false;
      if (const auto a = s.find("associations"); a != s.end() && a->is_array())
        for (const auto& x : *a) accepted = accepted || x.value("outcome", "") == "accepted";
      const std::string retrieve = s.value("retrieve", "");
      if (s.contains("move_probe") && s["move_probe"].is_object()) ++probed;
      else if (!accepted || retrieve == "refused" || retrieve == "refused-unknown-destination") ++shut;
    }
    c.measured = !dimse.empty() && probed + shut == dimse.size();
    c.what = fmt::format("{}: {} asked to move our test object (--move-probe), {} refusing a stranger's C-MOVE or "
                         "association",
                         plural(dimse.size(), "DIMSE service", "DIMSE services"), probed, shut);
    c.why_not = dimse.empty() ? no_scan
                              : fmt::format("accepting a stranger's C-MOVE and not move-probed: {} of {} (scan "
                                            "--active-store --move-probe ADDRESS)",
                                            dimse.size() - probed - shut,
                                            plural(dimse.size(), "DIMSE service", "DIMSE services"));
  } else if (kind == "default-credentials") {
    std::size_t asked = 0, tried = 0;
    for (const auto& s : r.services)
      if (is_http(s) && s.value("orthanc", "") == "auth-required") {
        ++asked;
        if (s.contains("default_credentials")) ++tried;
      }
    c.measured = r.scan_assessed && !http.empty() && tried == asked;
    c.what = asked ? fmt::format("--try-default-credentials on {} ({})", plural(asked, "Orthanc that asks for a password",
                                                                                 "Orthancs that ask for a password"),
                                 list(http))
                   : fmt::format("scan (assess mode) of {}: none asks for Orthanc's password", plural(http.size(), "web service", "web services"));
    c.why_not = http.empty() || !r.scan_assessed ? (scanned && !r.scan_assessed ? discover
                                                  : scanned ? std::string("the scan found no web service")
                                                            : std::string("no scan in these results"))
                                                 : fmt::format("default credentials tried on {} of {} Orthancs that ask "
                                                               "for a password (scan --try-default-credentials)",
                                                               tried, asked);
  } else if (kind == "encryption") {
    std::size_t tls_services = 0;
    for (const auto& s : r.services)
      if (is_tls(s)) ++tls_services;
    c.measured = scanned && !services.empty() && r.tls.size() >= tls_services;
    c.what = fmt::format("scan of {}, {} graded", plural(services.size(), "service", "services"),
                         plural(r.tls.size(), "TLS endpoint", "TLS endpoints"));
    c.why_not = !scanned || services.empty() ? (scanned ? "the scan found no DICOM service" : "no scan in these results")
                                             : fmt::format("{} of {} TLS services graded (not --no-tls-grade)",
                                                           r.tls.size(), tls_services);
  } else if (kind == "tls-graded") {
    std::vector<std::string> t;
    for (const auto& j : r.tls) t.push_back(j.value("target", ""));
    c.measured = !r.tls.empty();
    c.what = fmt::format("TLS grade of {}: {}", plural(t.size(), "endpoint", "endpoints"), list(t));
    c.why_not = "no TLS grade in these results (dicomguard tls, or a scan that found TLS)";
  } else if (kind == "files") {
    c.measured = !r.files.empty();
    c.what = fmt::format("dicomguard files on {}", plural(r.files.size(), "file", "files"));
    c.why_not = "no file check in these results (dicomguard files --json)";
    c.subjects = {"file", "files", false};
    c.commands = {"files"};
  } else if (kind == "verified") {
    c.measured = !r.verified.empty();
    c.what = fmt::format("dicomguard deid --verify on {}", plural(r.verified.size(), "de-identified file", "de-identified files"));
    c.why_not = "no dicomguard deid --verify in these results";
    c.subjects = {"file", "files", false};
    c.commands = {"deid", "deid-verify"};
  } else if (kind == "weblog") {
    c.measured = r.commands.count("weblog") > 0;
    c.what = "dicomguard weblog on the web server's logs";
    c.why_not = "no web log read in these results (dicomguard weblog LOG --json)";
    c.subjects = {"log", "logs", true};
    c.commands = {"weblog"};
  } else if (kind == "audit") {
    std::set<std::string> senders;
    for (const auto& a : r.audit) senders.insert(a.value("sender", ""));
    c.measured = !r.audit.empty();
    c.what = fmt::format("{} captured from {}", plural(r.audit.size(), "audit message", "audit messages"),
                         list({senders.begin(), senders.end()}));
    c.why_not = "no audit capture in these results (dicomguard audit listen -o audit.jsonl)";
    c.subjects = {"host", "hosts", true};
    c.commands = {"audit-listen", "audit-check"};
  } else if (kind == "audit-expect") {
    c.measured = r.commands.count("audit-expect") > 0;
    c.what = "dicomguard audit expect on the scan and the audit capture";
    c.why_not = "no dicomguard audit expect in these results";
    c.commands = {"scan", "audit-expect"};
  } else if (kind == "clock") {
    std::vector<std::string> hosts;
    for (const auto& k : r.clocks) hosts.push_back(k.value("address", ""));
    bool atna = false;
    for (const auto& a : r.audit)
      if (a.contains("skew_s") && a["skew_s"].is_number()) atna = true;
    c.measured = !hosts.empty() || atna;
    c.what = hosts.empty() ? std::string("audit event times")
                           : fmt::format("clock of {}: {}{}", plural(hosts.size(), "host", "hosts"), list(hosts),
                                         atna ? ", and audit event times" : "");
    c.why_not = scanned ? "the scan read no clock (no HTTP Date, no TLS 1.2 time, no --ntp answer)"
                        : "no clock in these results (a scan reads them)";
    c.subjects = {"host", "hosts", true};
  } else if (kind == "internet") {
    c.measured = r.commands.count("shodan") > 0;
    c.what = "dicomguard shodan on search engine exports";
    c.why_not = "no Shodan or Censys export in these results (dicomguard shodan EXPORT --json)";
    c.commands = {"shodan"};
  } else if (kind == "none") {
    c.why_not = "no dicomguard measurement answers this";
    c.commands = {};
  } else {
    c.why_not = "unknown kind of evidence: " + kind;
    c.commands = {};
  }
  return c;
}

}  // namespace

bool known_kind(const std::string& kind) { return std::find(kKinds.begin(), kKinds.end(), kind) != kKinds.end(); }

Coverage coverage(const std::vector<std::string>& kinds, const report::Results& r) {
  if (kinds.empty()) return one("none", r);
  Coverage all = one(kinds[0], r);
  for (std::size_t i = 1; i < kinds.size(); ++i) {
    const Coverage c = one(kinds[i], r);
    if (!c.measured && all.measured) all.why_not = c.why_not;
    else if (!c.measured) all.why_not += "; " + c.why_not;
    all.measured = all.measured && c.measured;
    all.what += "; " + c.what;
    for (const auto& cmd : c.commands)
      if (std::find(all.commands.begin(), all.commands.end(), cmd) == all.commands.end()) all.commands.push_back(cmd);
  }
  return all;
}

}  // namespace dg::procure
