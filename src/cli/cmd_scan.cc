// dicomguard scan TARGET...: find exposed DICOM services and prove what they let a stranger do.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <cstdio>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/summary.h"
#include "cli/target_flags.h"
#include "lab/lab.h"
#include "tls/cert.h"
#include "scan/dimse_probe.h"
#include "scan/engine.h"
#include "scan/baseline.h"
#include "scan/service.h"
#include "scan/service_probe.h"
#include "scan/targets.h"
#include "scan/tls_probe.h"
#include "scan/tls_service.h"

namespace dg::cli {

namespace {
struct ScanFlags {
  std::vector<std::string> targets;
  std::vector<std::string> lists;
  std::string ports = scan::kDefaultPorts;
  std::vector<std::string> exclude;
  bool discover = false;
  double rate = 0;
  std::size_t max_inflight = 1024;
  int per_host = 2;
  double timeout = 5;
  bool no_tls = false;
  bool tls_first = false;
  std::vector<std::string> called_aes;
  bool count_records = false;
  bool default_credentials = false;
  bool active_store = false;
  std::string move_probe;  // the address our move-destination listener binds to
  std::string baseline;
  std::string fail_on = "medium";
  std::string progress = "auto";
  std::string tls_cert, tls_key, ca_file;
  bool tls_full = false, no_tls_grade = false;
  std::uint64_t seed = 0;
  OutputFlags out;
};
}  // namespace

Action add_scan(CLI::App& app) {
  auto* sub = app.add_subcommand("scan", "Find DICOM services and prove, without touching patient data, what they let "
                                         "a stranger do");
  auto f = std::make_shared<ScanFlags>();
  sub->add_option("TARGET", f->targets,
                  "Host names, addresses, CIDR blocks (10.0.0.0/24), ranges (10.0.0.1-20), addr:port, [v6]:port");
  sub->add_option("--input-list", f->lists,
                  "Read targets from a file ('-iL FILE' also works): one per line, or masscan -oL/-oG or zmap "
                  "output");
  sub->add_option("-p,--ports", f->ports, fmt::format("Ports and ranges (default: {})", scan::kDefaultPorts));
  sub->add_option("--exclude", f->exclude, "Addresses, ranges or CIDR blocks never to contact (comma-separated)");
  sub->add_flag("--discover", f->discover,
                "Discovery only: one association per service (random AE titles, all service classes), classify, "
                "release");
  sub->add_option("--rate", f->rate, "New connections per second across the scan (default: unlimited)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-inflight", f->max_inflight, "Services probed at once (default: 1024)")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--per-host", f->per_host, "Concurrent connections to one address (default: 2)")
      ->check(CLI::Range(1, 64));
  sub->add_option("--timeout", f->timeout, "Seconds per step: connect, TLS handshake, each reply (default: 5)")
      ->check(CLI::Range(0.05, 600.0));
  sub->add_flag("--no-tls", f->no_tls, "Never retry inside TLS");
  sub->add_flag("--tls", f->tls_first, "Start every connection with TLS (for ports known to be DICOM-TLS)");
  sub->add_option("--tls-cert", f->tls_cert, "Client certificate (PEM) for TLS connections")
      ->check(CLI::ExistingFile);
  sub->add_option("--tls-key", f->tls_key, "Private key (PEM) of --tls-cert (default: the same file)")
      ->check(CLI::ExistingFile);
  sub->add_flag("--tls-full", f->tls_full,
                "Grade every TLS service found with the full 'dicomguard tls' assessment (default: the quick grade; "
                "none with --discover)");
  sub->add_flag("--no-tls-grade", f->no_tls_grade, "Do not grade the TLS services found");
  sub->add_option("--ca-file", f->ca_file, "Trust anchors (PEM) to verify TLS server chains (default: the system store)")
      ->check(CLI::ExistingFile);
  sub->add_option("--called-ae", f->called_aes,
                  "AE titles to try when a random one is refused, before the built-in defaults (repeatable)");
  sub->add_flag("--count-records", f->count_records,
                "Opt-in: count the studies a universal STUDY-level C-FIND returns (the number only)");
  sub->add_flag("--active-store", f->active_store,
                "Opt-in: prove storage by storing one labelled synthetic object (patient DICOMGUARD^TEST^OBJECT, no "
                "pixel data; its UID is in the output so it can be deleted)");
  sub->add_option("--move-probe", f->move_probe,
                  "Opt-in, with --active-store: listen on this address (one the scanned servers can reach, e.g. "
                  "127.0.0.1) and ask each server to C-MOVE our stored test object to a destination AE title "
                  "naming that address and port; a server that sends it there moves studies to any address "
                  "(dimse.move.any-destination). Only our own test object is moved");
  sub->add_flag("--try-default-credentials", f->default_credentials,
                "Opt-in: when Orthanc's REST API asks for a password, try its documented default (orthanc:orthanc)");
  sub->add_option("--baseline", f->baseline,
                  "An earlier 'scan --json' output: also report services that are new, gone or changed since");
  sub->add_option("--fail-on", f->fail_on, "Exit 1 when a finding has at least this severity (default: medium)")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  sub->add_option("--progress", f->progress, "Progress line on stderr (auto: when stderr is a terminal)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  sub->add_option("--seed", f->seed, "Seed for random AE titles and identifiers (default: random)")
      ->group("");  // for reproducing a run; hidden
  f->out.add_to(*sub);
  sub->footer("Only services that answer DICOM are reported; refused, silent and non-DICOM ports are counted in "
              "the summary. Every association is released. Nothing is stored unless --active-store is given, and no patient data is read.\n"
              "Exposure ladder: reachable < identified < ae-open < query-open < retrieve-open < write-open.\n"
              "Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage or I/O error, 3 no DICOM service "
              "answered on any endpoint (nothing was assessed).");

  return [f]() {
    if (!f->ca_file.empty())
      if (std::string e = tls::check_ca_file(f->ca_file); !e.empty()) {
        std::fprintf(stderr, "dicomguard scan: --ca-file: %s\n", e.c_str());
        return kExitError;
      }
    scan::TargetSet targets;
    if (!build_targets("scan", {f->targets, f->lists, f->exclude, f->ports}, targets)) return kExitError;
    // --move-probe: a store listener of ours (the lab's SCP) that the servers are asked to send our test object to.
    std::unique_ptr<lab::Lab> move_listener;
    std::thread move_thread;
    std::string move_ae;
    if (!f->move_probe.empty()) {
      if (!f->active_store) {
        std::fprintf(stderr, "dicomguard scan: --move-probe needs --active-store (only our stored test object is moved)\n");
        return kExitError;
      }
      try {
        move_listener = std::make_unique<lab::Lab>();
        const std::uint16_t port = move_listener->add({"move-destination", "DGMOVEPROBE", true, {}, false, 0, f->move_probe});
        move_ae = fmt::format("{}:{}", f->move_probe, port);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "dicomguard scan: --move-probe: %s\n", e.what());
        return kExitError;
      }
      if (move_ae.size() > 16) {
        std::fprintf(stderr, "dicomguard scan: --move-probe: '%s' is %zu characters; an AE title has at most 16 (use a "
                     "shorter address)\n", move_ae.c_str(), move_ae.size());
        return kExitError;
      }
      move_thread = std::thread([&] { move_listener->run(false); });
    }
    struct StopListener {
      std::unique_ptr<lab::Lab>& lab;
      std::thread& t;
      ~StopListener() {
        if (lab) lab->stop();
        if (t.joinable()) t.join();
      }
    } stop_listener{move_listener, move_thread};

    scan::DimseOptions dopt;
    dopt.discover = f->discover;
    dopt.try_tls = !f->no_tls;
    dopt.tls_only = f->tls_first;
    dopt.count_records = f->count_records;
    dopt.active_store = f->active_store;
    dopt.move_probe_ae = move_ae;
    dopt.timeout = scan::Ms(static_cast<long>(f->timeout * 1000));
    dopt.called_aes = f->called_aes;
    dopt.seed = f->seed;

    scan::EngineOptions eopt;
    eopt.max_inflight = f->max_inflight;
    eopt.per_host = f->per_host;
    eopt.rate = f->rate;
    eopt.tls_cert = f->tls_cert;
    eopt.tls_key = f->tls_key;
    eopt.untrusted_identity = f->tls_full;

    auto sinks = f->out.make_sinks();
    Tally tally("scan", "services");
    std::map<std::string, std::uint64_t> answers;
    std::uint64_t endpoints = 0;
    std::unique_ptr<scan::Engine> engine;
    try {
      engine = std::make_unique<scan::Engine>(eopt);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard scan: TLS client setup: %s\n", e.what());
      return kExitError;
    }
    scan::HttpOptions hopt;
    hopt.try_default_credentials = f->default_credentials;
    hopt.timeout = dopt.timeout;
    hopt.seed = f->seed;

    scan::ServiceMap before, now;
    std::set<std::string> probed;
    if (!f->baseline.empty()) {
      if (std::string e = scan::load_baseline(f->baseline, before); !e.empty()) {
        std::fprintf(stderr, "dicomguard scan: --baseline: %s\n", e.c_str());
        return kExitError;
      }
    }
    const bool progress = f->progress == "always" || (f->progress == "auto" && ::isatty(2));
    const std::uint64_t total = targets.size_hint();
    bool shown = false;
    auto last_progress = std::chrono::steady_clock::now();
    const auto started = last_progress;
    auto clear_progress = [&] {
      if (shown) std::fprintf(stderr, "\r\033[K");
      shown = false;
    };
    // TLS services found (DICOM inside TLS, HTTPS APIs) are graded at the end: target -> DICOM behind it.
    std::map<std::string, bool> tls_services;
    auto output = [&](Record rec) {
      clear_progress();
      if (const std::string proto = rec.fields.value("protocol", ""); proto == "dimse-tls" || proto == "https")
        tls_services.emplace(rec.subject.substr(0, rec.subject.find(' ')), proto == "dimse-tls");
      if (!f->baseline.empty()) scan::add_state(now, rec);
      tally.add(rec);
      sinks->prepare(rec);
      sinks->record(rec);
    };
    // DICOM-over-TLS services are written at the end, with whether a plaintext twin of the same AE exists: a
    // plain DIMSE service on the same address that accepts the same called AE title (or any).
    std::vector<Record> tls_records;
    std::uint64_t dicom_services = 0;  // DIMSE, DICOM-TLS, and web servers that serve DICOM
    struct Plain {
      std::string ae, target, identity;
    };
    std::map<std::string, std::vector<Plain>> plain_aes;  // address -> plain DIMSE services that accept an AE
    auto accepted_ae = [](const Record& r) -> std::string {
      if (r.fields.value("called_ae_check", "") == "not-enforced") return "*";
      const auto& aes = r.fields["ae_titles"];
      return aes.empty() ? std::string() : aes[0].get<std::string>();
    };
    auto identity = [](const Record& r) {
      return r.fields.value("implementation_uid", "") + "/" + r.fields.value("implementation_version", "");
    };
    auto emit = [&](Record rec) {
      const std::string proto = rec.fields.value("protocol", "");
      if (proto == "dimse" || proto == "dimse-tls" || rec.fields.value("dicom", false)) ++dicom_services;
      if (proto == "dimse-tls") return tls_records.push_back(std::move(rec));
      if (proto == "dimse")
        if (std::string ae = accepted_ae(rec); !ae.empty())
          plain_aes[rec.fields.value("address", "")].push_back(
              {ae, rec.subject.substr(0, rec.subject.find(' ')), identity(rec)});
      output(std::move(rec));
    };
    // DICOM services whose called AE title is checked and that refused every title tried are held back until
    // the HTTP probes have run: Orthanc's /system may name the title (learned), and they are probed again with it.
    struct Deferred {
      scan::Endpoint ep;
      Record rec;
    };
    std::vector<Deferred> deferred;
    std::map<std::pair<scan::Addr, int>, std::string> learned;
    std::uint64_t n = 0;
    auto make = [&](const scan::Endpoint& ep, std::vector<std::string> extra_aes) {
      scan::DimseOptions o = dopt;
      if (o.seed) o.seed += ++n;
      o.called_aes.insert(o.called_aes.begin(), extra_aes.begin(), extra_aes.end());
      return std::make_unique<scan::ServiceProbe>(ep, o, hopt);
    };
    auto finished = [&](const scan::Endpoint& ep, std::unique_ptr<scan::Probe> p, bool second_pass) {
      if (!second_pass) ++endpoints;
      if (progress) {
        const auto t = std::chrono::steady_clock::now();
        if (t - started > std::chrono::seconds(1) && t - last_progress > std::chrono::milliseconds(200)) {
          last_progress = t;
          const double secs = std::chrono::duration<double>(t - started).count();
          std::string of = total == UINT64_MAX ? std::string() : fmt::format("/{}", total);
          std::fprintf(stderr, "\r\033[Kscan: %llu%s endpoints, %llu services (%.0f endpoints/s)",
                       static_cast<unsigned long long>(endpoints), of.c_str(),
                       static_cast<unsigned long long>(tally.count_all()), static_cast<double>(endpoints) / secs);
          std::fflush(stderr);
          shown = true;
        }
      }
      if (!second_pass && !f->baseline.empty()) probed.insert(ep.str());
      const auto& sp = static_cast<scan::ServiceProbe&>(*p);
      const scan::DimseResult& r = sp.dimse();
      if (!second_pass) ++answers[r.answer];
      if (const scan::HttpResult* h = sp.http()) {
        if (!h->dicom_aet.empty() && h->dicom_port > 0) learned[{ep.addr, h->dicom_port}] = h->dicom_aet;
        Record rec = scan::http_record(*h);
        if (!rec.type.empty()) emit(std::move(rec));
        return;
      }
      Record rec = scan::dimse_record(r);
      if (rec.type.empty()) return;
      if (move_listener && r.move_probe.sent) {
        // What our listener saw settles it: the server opened an association to the address the destination AE
        // title named (and sent our object there, or tried to).
        const bool got = move_listener->received(r.stored_instance_uid);
        const bool connected = move_listener->associated_from(r.ep.addr.str());
        rec.fields["move_probe"]["received_by_listener"] = got;
        rec.fields["move_probe"]["connected_to_listener"] = connected;
        bool reported = false;
        for (Finding& fd : rec.findings)
          if (fd.check == "dimse.move.any-destination") {
            fd.evidence["received_by_listener"] = got;
            fd.evidence["connected_to_listener"] = connected;
            reported = true;
          }
        if (connected && !reported) {
          rec.findings.push_back(make_finding(
              "dimse.move.any-destination", r.ep.str(),
              {{"destination_ae", move_ae}, {"received_by_listener", got}, {"connected_to_listener", true},
               {"note", "the server opened a sub-association to the address named in the destination AE title"}}));
          rec.fields["move_probe"]["result"] = "connected";
        }
      }
      if (!second_pass && !f->discover && r.called_enforced == true && !r.association_accepted())
        deferred.push_back({ep, std::move(rec)});
      else
        emit(std::move(rec));
    };
    scan::TargetSet::Cursor cursor(targets);
    const auto t0 = std::chrono::steady_clock::now();
    scan::EngineStats st = engine->run(
        cursor, [&](const scan::Endpoint& ep) { return make(ep, {}); },
        [&](const scan::Endpoint& ep, std::unique_ptr<scan::Probe> p) { finished(ep, std::move(p), false); });
    // Second pass: the deferred services whose AE title an HTTP API disclosed.
    scan::TargetSet again;
    std::map<std::string, std::string> again_ae;
    for (Deferred& d : deferred) {
      auto it = learned.find({d.ep.addr, d.ep.port});
      if (it == learned.end()) {
        emit(std::move(d.rec));
        continue;
      }
      std::string e;
      again.add(d.ep.str(), e);
      again_ae[d.ep.str()] = it->second;
    }
    if (!again.blocks().empty()) {
      scan::TargetSet::Cursor c2(again);
      scan::EngineStats st2 = engine->run(
          c2, [&](const scan::Endpoint& ep) { return make(ep, {again_ae[ep.str()]}); },
          [&](const scan::Endpoint& ep, std::unique_ptr<scan::Probe> p) { finished(ep, std::move(p), true); });
      st.connections = st2.connections;  // the engine's counters are cumulative
      st.tls_handshakes = st2.tls_handshakes;
    }
    // A plaintext twin is named on evidence only: the same AE title learned on both, or the same implementation
    // identity accepting the same AE; another plain service on the address that would take the same AE is only
    // a possible twin (a busy host runs several DICOM services).
    for (Record& rec : tls_records) {
      const std::string ae = accepted_ae(rec);
      std::vector<std::string> found, possible;
      std::string evidence;
      if (!ae.empty())
        for (const Plain& p : plain_aes[rec.fields.value("address", "")]) {
          const bool same_title = ae != "*" && p.ae == ae;
          const bool same_identity = p.identity == identity(rec) && (p.ae == ae || p.ae == "*");
          if (same_title || same_identity) {
            found.push_back(p.target);
            if (evidence.empty()) evidence = same_title ? "the same AE title is accepted on both" : "the same implementation identity accepts the same AE title on both";
          } else if (p.ae == "*" || p.ae == ae) {
            possible.push_back(p.target);
          }
        }
      std::sort(found.begin(), found.end());
      std::sort(possible.begin(), possible.end());
      rec.fields["plaintext_twin"] = found.empty() ? nlohmann::json(nullptr) : nlohmann::json(found.front());
      rec.fields["plaintext_twin_check"] = ae.empty() ? "not-measured" : !found.empty() ? "found" : !possible.empty() ? "possible" : "none";
      if (!evidence.empty()) rec.fields["plaintext_twin_evidence"] = evidence;
      if (!possible.empty()) rec.fields["plaintext_twin_possible"] = possible;
      if (!found.empty()) rec.lines.push_back("plaintext twin: " + found.front() + " (" + evidence + ")");
      else if (!possible.empty())
        rec.lines.push_back(fmt::format("possible plaintext twin: {} (accepts the same AE title; a different implementation)",
                                        possible.front()));
      output(std::move(rec));
    }
    // The TLS grade of every TLS service found: quick by default, the full assessment with --tls-full.
    std::uint64_t tls_graded = 0, tls_handshakes = 0;
    Tally tls_tally("scan", "tls");
    if (!f->no_tls_grade && !tls_services.empty() && (!f->discover || f->tls_full)) {
      scan::TargetSet tls_targets;
      for (const auto& [t, dicom] : tls_services) {
        std::string e;
        tls_targets.add(t, e);
      }
      scan::TlsOptions topt;
      topt.full = f->tls_full;
      topt.trusted_cert = !f->tls_cert.empty();
      topt.timeout = dopt.timeout;
      topt.called_aes = f->called_aes;
      scan::TlsRecordOptions ropt{f->ca_file};
      std::uint64_t k = 0;
      scan::TargetSet::Cursor c3(tls_targets);
      scan::EngineStats st3 = engine->run(
          c3,
          [&](const scan::Endpoint& ep) {
            scan::TlsOptions o = topt;
            o.associate = tls_services[ep.str()];
            o.seed = f->seed ? f->seed + 1000000 + ++k : 0;
            return std::make_unique<scan::TlsProbe>(ep, o);
          },
          [&](const scan::Endpoint&, std::unique_ptr<scan::Probe> p) {
            const auto& r = static_cast<scan::TlsProbe&>(*p).result();
            tls_handshakes += static_cast<std::uint64_t>(r.handshakes);
            Record rec = scan::tls_record(r, ropt);
            if (rec.type.empty()) return;
            ++tls_graded;
            clear_progress();
            tls_tally.add(rec);
            sinks->prepare(rec);
            sinks->record(rec);
          });
      st.connections = st3.connections;
      st.tls_handshakes = st3.tls_handshakes;
    }
    clear_progress();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json sum = tally.summary();
    sum["endpoints"] = endpoints;
    sum["answers"] = answers;
    sum["connections"] = st.connections;
    sum["tls_handshakes"] = st.tls_handshakes;
    sum["peak_inflight"] = st.peak_inflight;
    sum["seconds"] = secs;
    sum["mode"] = f->discover ? "discover" : "assess";
    sum["tls_graded"] = tls_graded;
    if (tls_graded)
      sum["line"] = sum["line"].get<std::string>() +
                    fmt::format(" | TLS graded ({}): {} meet B.12 or B.13, {} do not", f->tls_full ? "full" : "quick",
                                tls_tally.count("pass"), tls_tally.count("fail"));
    sum["tls_grade_handshakes"] = tls_handshakes;
    if (!f->baseline.empty()) {
      std::map<std::string, int> counts = {{"new", 0}, {"gone", 0}, {"changed", 0}};
      for (Record& c : scan::compare(before, now, [&](const std::string& t) { return probed.count(t) > 0; })) {
        ++counts[c.status];
        sinks->prepare(c);
        sinks->record(c);
      }
      sum["baseline"] = counts;
      sum["line"] = sum["line"].get<std::string>() + fmt::format(" | since the baseline: {} new, {} gone, {} changed",
                                                                 counts["new"], counts["gone"], counts["changed"]);
    }
    std::string others;
    for (const auto& [k, v] : answers)
      if (k != "dicom") others += fmt::format("{}{} {}", others.empty() ? "" : ", ", v, k);
    sum["dicom_services"] = dicom_services;
    if (dicom_services == 0)
      sum["line"] = fmt::format("No DICOM service answered on any of the {} endpoint{} probed: nothing was assessed "
                                "(exit code {}). ",
                                endpoints, endpoints == 1 ? "" : "s", kExitNothingFound) +
                    sum["line"].get<std::string>();
    sum["line"] = sum["line"].get<std::string>() +
                  fmt::format(" | {} endpoint{} probed with {} connection{}{}", endpoints, endpoints == 1 ? "" : "s",
                              st.connections, st.connections == 1 ? "" : "s",
                              others.empty() ? "" : " (no DICOM answer: " + others + ")");
    if (std::string e = sinks->end(sum); !e.empty()) {
      std::fprintf(stderr, "dicomguard scan: %s\n", e.c_str());
      return kExitError;
    }
    const Severity fail_on = *parse_severity(f->fail_on);
    if (tally.failed(fail_on) || tls_tally.failed(fail_on)) return kExitFindings;
    return dicom_services == 0 ? kExitNothingFound : kExitClean;
  };
}

}  // namespace dg::cli
