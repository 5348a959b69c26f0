#include "report/checklist.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace dg::report {

const char* status_name(ItemStatus s) {
  switch (s) {
    case ItemStatus::pass: return "pass";
    case ItemStatus::fail: return "fail";
    case ItemStatus::not_measured: return "not-measured";
  }
  return "not-measured";
}

const char* status_label(ItemStatus s) { return s == ItemStatus::not_measured ? "not measured" : status_name(s); }

namespace {

std::string list(const std::vector<std::string>& v, std::size_t max = 4) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > max) s += fmt::format(" and {} more", v.size() - max);
  return s;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The audit item: every DICOM host the scan found sent audit messages (dicomguard audit listen), all of them
// valid and over TLS, and none of the events audit expect looked for is missing.
ChecklistItem audit_item(const Results& r) {
  ChecklistItem it{"audit", "Audit trail (IHE ATNA) sent to a central log", ItemStatus::not_measured, "",
                   {"audit.invalid", "audit.plaintext", "audit.refused", "audit.missing-event"}, {}};
  const std::size_t missing = r.check_count.count("audit.missing-event") ? r.check_count.at("audit.missing-event") : 0;
  if (r.audit.empty() && !missing) {
    it.evidence = "no audit capture in these results: run dicomguard audit listen -o audit.jsonl while the scan runs "
                  "and give that file to report";
    return it;
  }
  std::set<std::string> hosts, plaintext, bad, silent;
  std::map<std::string, std::set<std::string>> names;  // address -> the names an audit record may carry
  for (const auto& s : r.services) {
    const std::string p = s.value("protocol", ""), a = s.value("address", "");
    if ((p != "dimse" && p != "dimse-tls") || a.empty()) continue;
    hosts.insert(a);
    names[a].insert(a);
    if (s.contains("host") && s["host"].is_string()) names[a].insert(s["host"].get<std::string>());
  }
  std::size_t invalid = 0;
  for (const auto& a : r.audit) {
    const std::string sender = a.value("sender", "");
    if (a.value("status", "") != "valid") {
      ++invalid;
      bad.insert(sender);
    }
    const std::string t = a.value("transport", "");
    if (t == "udp" || t == "tcp") plaintext.insert(sender);
  }
  for (const auto& h : hosts) {
    bool heard = false;
    for (const auto& a : r.audit) {
      if (a.value("status", "") == "refused") continue;
      for (const char* k : {"sender", "hostname", "source_id"})
        if (a.contains(k) && a[k].is_string() && names[h].count(a[k].get<std::string>())) heard = true;
      if (heard) break;
    }
    if (!heard) silent.insert(h);
  }
  std::vector<std::string> why;
  if (!silent.empty())
    why.push_back(fmt::format("{} sent no audit message: {}", plural(silent.size(), "scanned DICOM host", "scanned DICOM hosts"),
                              list({silent.begin(), silent.end()})));
  if (invalid)
    why.push_back(fmt::format("{} invalid or refused (audit.invalid, audit.refused) from {}",
                              plural(invalid, "message", "messages"), list({bad.begin(), bad.end()})));
  if (!plaintext.empty())
    why.push_back(fmt::format("sent without TLS (audit.plaintext) by {}", list({plaintext.begin(), plaintext.end()})));
  if (missing) why.push_back(fmt::format("{} not sent (audit.missing-event)", plural(missing, "expected event", "expected events")));
  if (!why.empty()) {
    it.status = ItemStatus::fail;
    for (const auto* set : {&silent, &bad, &plaintext})
      for (const auto& t : *set)
        if (std::find(it.targets.begin(), it.targets.end(), t) == it.targets.end()) it.targets.push_back(t);
    for (const auto& w : why) it.evidence += (it.evidence.empty() ? "" : "; ") + w;
    return it;
  }
  if (hosts.empty()) {
    it.evidence = fmt::format("{} valid over TLS, but no scan in these results says which DICOM services should send",
                              plural(r.audit.size(), "audit message", "audit messages"));
    return it;
  }
  it.status = ItemStatus::pass;
  it.evidence = fmt::format("{} valid over TLS from every scanned DICOM host ({})",
                            plural(r.audit.size(), "audit message", "audit messages"), list({hosts.begin(), hosts.end()}));
  return it;
}

}  // namespace

ChecklistItem judge(const Results& r, std::string id, std::string title, std::vector<std::string> checks,
                    bool measured, const std::string& what_failed, const std::string& passed,
                    const std::string& why_not, const Subjects& subjects) {
  ChecklistItem it{std::move(id), std::move(title), ItemStatus::not_measured, "", std::move(checks), {}};
  std::vector<std::string> found;
  for (const auto& [target, ids] : r.checks_by_target)
    for (const auto& c : it.checks)
      if (ids.count(c)) {
        it.targets.push_back(target);
        break;
      }
  for (const auto& c : it.checks)
    if (r.has(c)) found.push_back(c);
  if (!it.targets.empty()) {
    it.status = ItemStatus::fail;
    const std::string who = plural(it.targets.size(), subjects.one, subjects.many);
    it.evidence = subjects.named ? fmt::format("{} {}: {} ({})", who, what_failed, list(it.targets), list(found, 8))
                                 : fmt::format("{} {} ({})", who, what_failed, list(found, 8));
  } else if (measured) {
    it.status = ItemStatus::pass;
    it.evidence = passed;
  } else {
    it.status = ItemStatus::not_measured;
    it.evidence = why_not;
  }
  return it;
}

void demote_if_incomplete(const Results& r, ChecklistItem& it, const std::vector<std::string>& from) {
  if (it.status != ItemStatus::pass) return;
  for (const std::string& command : from) {
    const auto by_n = r.shards.find(command);
    if (by_n == r.shards.end()) continue;
    for (const auto& [n, have] : by_n->second)
      if (have.size() < n) {
        it.status = ItemStatus::not_measured;
        it.evidence = "only part of a sharded " + command + " run is here (shards missing), so this cannot pass; in "
                      "the shards given: " + it.evidence;
        return;
      }
  }
}

std::vector<ChecklistItem> checklist(const Results& r) {
  std::vector<ChecklistItem> out;
  std::size_t dimse = 0, plain = 0, http = 0;
  for (const auto& s : r.services) {
    const std::string p = s.value("protocol", "");
    if (p == "dimse" || p == "dimse-tls") ++dimse;
    if (p == "http" || p == "https") ++http;
    if (p == "dimse" || p == "http") ++plain;
  }
  const bool scanned = r.commands.count("scan") > 0;
  const std::string no_scan = scanned ? "the scan found no DICOM service to test" : "no scan in these results";
  const std::string services = plural(dimse + http, "service", "services");

  out.push_back(judge(r, "ae", "No DICOM service accepts an unknown AE title",
                      {"dimse.ae.any-called", "dimse.ae.any-calling", "dimse.ae.default-called"}, scanned && dimse > 0,
                      "accepting AE titles nobody configured",
                      fmt::format("{} checked with random and default AE titles: every one refused them",
                                  plural(dimse, "DICOM service", "DICOM services")),
                      no_scan));

  // TLS: every service encrypted, and each TLS service graded B.12 or B.13.
  {
    ChecklistItem it{"tls", "Every DIMSE and DICOMweb service uses TLS meeting PS3.15 B.12 or B.13", ItemStatus::not_measured, "",
                     {"dimse.plaintext", "http.plaintext", "tls.profile.none"}, {}};
    std::vector<std::string> bad, graded_ok;
    for (const auto& [target, ids] : r.checks_by_target)
      if (ids.count("dimse.plaintext") || ids.count("http.plaintext") || ids.count("tls.profile.none"))
        bad.push_back(target);
    std::size_t tls_services = dimse + http - plain, graded = r.tls.size();
    if (!bad.empty()) {
      it.status = ItemStatus::fail;
      it.targets = bad;
      it.evidence = fmt::format("{} without TLS or below both profiles: {}", plural(bad.size(), "service", "services"),
                                list(bad));
    } else if (r.tls.empty() || (scanned && dimse + http == 0)) {
      it.status = ItemStatus::not_measured;
      it.evidence = r.tls.empty() ? (scanned && tls_services ? "TLS services found but not graded (--no-tls-grade)"
                                                             : "no TLS grade in these results")
                                  : no_scan;
    } else if (scanned && graded < tls_services) {
      it.status = ItemStatus::not_measured;
      it.evidence = fmt::format("{} of {} TLS services graded", graded, tls_services);
    } else {
      it.status = ItemStatus::pass;
      it.evidence = fmt::format("{} graded: each meets B.12 or B.13", plural(graded, "TLS service", "TLS services"));
    }
    out.push_back(std::move(it));
  }
  out.push_back(judge(r, "certificates", "Certificates valid and strong; clients authenticated by certificate",
                      {"tls.cert.expired", "tls.cert.not-yet-valid", "tls.cert.weak-key", "tls.cert.weak-signature",
                       "tls.cert.self-signed", "tls.client-auth.not-required"},
                      !r.tls.empty(), "with a certificate or client-authentication problem",
                      fmt::format("{}: certificates in date, strong keys and signatures, client certificates required",
                                  plural(r.tls.size(), "TLS service", "TLS services")),
                      "no TLS grade in these results"));
  out.push_back(judge(r, "query", "No unauthenticated query or retrieve",
                      {"dimse.query.open", "dimse.retrieve.open", "http.orthanc.open", "http.dicomweb.open",
                       "http.default-credentials"},
                      r.scan_assessed && dimse + http > 0, "answering a stranger's queries or retrieves",
                      fmt::format("{} refused a stranger's C-FIND, C-MOVE, C-GET and web queries", services),
                      scanned && !r.scan_assessed ? "the scan ran with --discover: commands were not tried"
                                                  : no_scan));
  out.push_back(judge(r, "store", "No stranger can store or change studies",
                      {"dimse.store.open", "http.orthanc.open", "http.default-credentials"},
                      r.scan_assessed && dimse + http > 0, "accepting objects from a stranger",
                      fmt::format("{} refused storage from an unknown AE title", services),
                      scanned && !r.scan_assessed ? "the scan ran with --discover: storage was not tried" : no_scan));
  {
    std::size_t dangerous = 0;
    for (const auto& f : r.files)
      if (f.value("verdict", "") == "dangerous") ++dangerous;
    ChecklistItem it{"files", "Part 10 files free of executable and active content (sanitized)", ItemStatus::not_measured, "",
                     {"file.preamble.executable", "file.payload.executable", "file.payload.archive",
                      "file.polyglot.document", "file.encapsulated.active"},
                     {}};
    if (dangerous) {
      it.status = ItemStatus::fail;
      std::vector<std::string> found;
      for (const auto& c : it.checks)
        if (r.has(c)) found.push_back(fmt::format("{} x{}", c, r.check_count.at(c)));
      it.evidence = fmt::format("{} of {} dangerous ({}); clean them with dicomguard sanitize",
                                plural(dangerous, "file", "files"), r.files.size(), list(found, 8));
    } else if (!r.files.empty()) {
      it.status = ItemStatus::pass;
      it.evidence = fmt::format("{} checked: no executable or active content", plural(r.files.size(), "file", "files"));
    } else {
      it.status = ItemStatus::not_measured;
      it.evidence = "no file check in these results";
    }
    out.push_back(std::move(it));
  }
  out.push_back(audit_item(r));
  // Clocks: every host a clock was read from within --max-skew, and no NTP server answering mode 6. The clocks a
  // scan read (clock records) and, when `audit listen` ran alongside, the event times of each sender's audit
  // messages (audit records with skew_s; audit.clock-skew when beyond the listener's --max-skew).
  {
    ChecklistItem it{"clock", "Clocks synchronized (NTP) on every imaging system", ItemStatus::not_measured, "",
                     {"clock.skew", "ntp.mode6", "audit.clock-skew"}, {}};
    std::vector<std::string> skewed, mode6;
    for (const auto& c : r.clocks)
      if (c.value("status", "") == "skewed")
        skewed.push_back(fmt::format("{} ({:+.1f} s, {})", c.value("address", ""), c.value("offset_seconds", 0.0),
                                     c.value("source", "")));
    std::map<std::string, double> atna_worst;  // sender -> the event time furthest from its arrival
    std::set<std::string> atna_skewed;
    for (const auto& a : r.audit) {
      if (!a.contains("skew_s") || !a["skew_s"].is_number()) continue;
      const std::string who = a.value("sender", "");
      const double skew = a["skew_s"].get<double>();
      auto [w, fresh] = atna_worst.emplace(who, skew);
      if (!fresh && std::abs(skew) > std::abs(w->second)) w->second = skew;
      if (const auto ch = a.find("checks"); ch != a.end() && ch->is_array())
        for (const auto& id : *ch)
          if (id.is_string() && id.get<std::string>() == "audit.clock-skew") atna_skewed.insert(who);
    }
    std::size_t atna_only = 0;  // senders whose clock no scan record read
    for (const auto& entry : atna_worst) {
      const std::string& who = entry.first;  // (not a structured binding: clang 14 cannot capture one in a lambda)
      const double worst = entry.second;
      const bool scanned_clock = std::any_of(r.clocks.begin(), r.clocks.end(), [&](const nlohmann::json& c) {
        return c.value("address", "") == who;
      });
      if (!scanned_clock) ++atna_only;
      if (atna_skewed.count(who)) {
        skewed.push_back(fmt::format("{} ({:+.1f} s, ATNA event times)", who, worst));
        it.targets.push_back(who);
      }
    }
    for (const auto& [where, ids] : r.checks_by_target) {
      const std::string target = where;  // (a structured binding cannot be captured before C++23's rules in clang)
      if (ids.count("clock.skew") && std::none_of(r.clocks.begin(), r.clocks.end(), [&](const nlohmann::json& c) {
            return c.value("address", "") == target;
          }))
        skewed.push_back(target);
      if (ids.count("ntp.mode6")) mode6.push_back(target);
    }
    for (const auto& c : r.clocks)
      if (c.value("status", "") == "skewed") it.targets.push_back(c.value("address", ""));
    it.targets.insert(it.targets.end(), mode6.begin(), mode6.end());
    std::vector<std::string> why;
    if (!skewed.empty())
      why.push_back(fmt::format("{} off by more than the allowed skew: {}", plural(skewed.size(), "clock", "clocks"),
                                list(skewed)));
    if (!mode6.empty())
      why.push_back(fmt::format("{} answering NTP mode 6 (ntp.mode6): {}",
                                plural(mode6.size(), "NTP server", "NTP servers"), list(mode6)));
    if (!why.empty()) {
      it.status = ItemStatus::fail;
      it.evidence = why.size() == 2 ? why[0] + "; " + why[1] : why[0];
    } else if (!r.clocks.empty() || !atna_worst.empty()) {
      double worst = 0;
      for (const auto& c : r.clocks) worst = std::max(worst, std::abs(c.value("offset_seconds", 0.0)));
      for (const auto& [who, w] : atna_worst) worst = std::max(worst, std::abs(w));
      it.status = ItemStatus::pass;
      it.evidence = fmt::format("{} within the allowed skew (largest offset {:.3f} s{}){}",
                                plural(r.clocks.size() + atna_only, "host's clock", "hosts' clocks"), worst,
                                atna_worst.empty() ? "" : ", ATNA event times included",
                                r.ntp.empty() ? "" : fmt::format("; {} without mode 6",
                                                                 plural(r.ntp.size(), "NTP server", "NTP servers")));
    } else {
      it.evidence = scanned ? "the scan read no clock (no HTTP Date, no TLS 1.2 time, no --ntp answer)"
                            : "no scan in these results: audit trails and certificates depend on synchronized clocks";
    }
    out.push_back(std::move(it));
  }
  {
    ChecklistItem it{"deid", "Studies de-identified (PS3.15 Annex E) before they are shared", ItemStatus::not_measured,
                     "", {"deid.residual.attribute", "deid.residual.private", "deid.residual.uid", "deid.residual.value",
                          "deid.burned-in.suspected"}, {}};
    std::size_t residual = 0, searched = 0;
    for (const auto& f : r.verified) {
      if (f.value("status", "") != "clean") ++residual;
      if (f.contains("values_searched")) ++searched;
    }
    std::vector<std::string> found;
    for (const auto& c : it.checks)
      if (r.has(c)) found.push_back(fmt::format("{} x{}", c, r.check_count.at(c)));
    if (residual) {
      it.status = ItemStatus::fail;
      for (const auto& f : r.verified)
        if (f.value("status", "") != "clean") it.targets.push_back(f.value("path", ""));
      it.evidence = fmt::format("{} of {} de-identified files verified with patient data left or not readable ({}); "
                                "de-identify again with dicomguard deid",
                                residual, r.verified.size(), list(found, 8));
    } else if (!r.verified.empty()) {
      it.status = ItemStatus::pass;
      it.evidence = fmt::format("{} verified by dicomguard deid --verify: no attribute, private tag, UID{} left",
                                plural(r.verified.size(), "de-identified file", "de-identified files"),
                                searched ? " or input value" : "");
    } else {
      it.evidence = "no dicomguard deid --verify in these results";
    }
    out.push_back(std::move(it));
  }
  // A part of a sharded run proves no pass: the missing shards may hold what fails. Its failures stand.
  for (ChecklistItem& it : out)
    demote_if_incomplete(r, it, it.id == "files"   ? std::vector<std::string>{"files"}
                                : it.id == "deid"  ? std::vector<std::string>{"deid", "deid-verify"}
                                : it.id == "audit" ? std::vector<std::string>{"scan", "audit-expect"}
                                                   : std::vector<std::string>{"scan", "tls"});
  return out;
}

std::vector<BeforeAfter> compare(const Results& before, const Results& after) {
  const auto b = checklist(before), a = checklist(after);
  std::vector<BeforeAfter> out;
  for (std::size_t i = 0; i < b.size() && i < a.size(); ++i)
    if (b[i].status != ItemStatus::not_measured || a[i].status != ItemStatus::not_measured) out.push_back({b[i], a[i]});
  return out;
}

}  // namespace dg::report
