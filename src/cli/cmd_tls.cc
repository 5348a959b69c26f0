// dicomguard tls TARGET...: grade DICOM-TLS endpoints against the PS3.15 Annex B secure transport profiles.
#include <cstdio>
#include <fmt/format.h>
#include <map>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/summary.h"
#include "cli/target_flags.h"
#include "tls/cert.h"
#include "scan/engine.h"
#include "scan/tls_probe.h"
#include "scan/tls_service.h"

namespace dg::cli {

namespace {
struct TlsFlags {
  TargetFlags t{{}, {}, {}, "2762"};
  int conns = 2;
  int budget = 300;
  bool quick = false;
  bool no_associate = false;
  double timeout = 5;
  double rate = 0;
  std::size_t max_inflight = 64;
  std::string tls_cert, tls_key, ca_file;
  std::vector<std::string> called_aes;
  std::string fail_on = "medium";
  std::uint64_t seed = 0;
  OutputFlags out;
};
}  // namespace

Action add_tls(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "tls", "Grade DICOM-TLS endpoints clause by clause against the PS3.15 secure transport profiles (B.12, B.13 "
             "and the retired ones)");
  auto f = std::make_shared<TlsFlags>();
  sub->add_option("TARGET", f->t.targets, "Host names, addresses, CIDR blocks, ranges, addr:port, [v6]:port");
  sub->add_option("--input-list", f->t.lists, "Read targets from a file ('-iL FILE' also works)");
  sub->add_option("-p,--ports", f->t.ports, "Ports and ranges when a target has none (default: 2762, DICOM-TLS)");
  sub->add_option("--exclude", f->t.exclude, "Addresses, ranges or CIDR blocks never to contact");
  sub->add_flag("--quick", f->quick,
                "Quick grade: versions, suites, certificate and DICOM only (no server order, group and signature "
                "enumeration, fallback or untrusted-certificate test)");
  sub->add_option("--tls-conns", f->conns, "Handshakes at once to one host (default: 2)")->check(CLI::Range(1, 16));
  sub->add_option("--max-handshakes", f->budget, "Most handshakes for one endpoint (default: 300)")
      ->check(CLI::Range(8, 100000));
  sub->add_option("--tls-cert", f->tls_cert,
                  "A client certificate (PEM) the server should trust: tried after no certificate and an untrusted "
                  "one")
      ->check(CLI::ExistingFile);
  sub->add_option("--tls-key", f->tls_key, "Private key (PEM) of --tls-cert (default: the same file)")
      ->check(CLI::ExistingFile);
  sub->add_option("--ca-file", f->ca_file, "Trust anchors (PEM) to verify server chains (default: the system store)")
      ->check(CLI::ExistingFile);
  sub->add_option("--called-ae", f->called_aes, "Called AE title for the association inside TLS (default: random)");
  sub->add_flag("--no-associate", f->no_associate, "Do not send an A-ASSOCIATE-RQ inside the TLS");
  sub->add_option("--timeout", f->timeout, "Seconds per step: connect, handshake, each reply (default: 5)")
      ->check(CLI::Range(0.05, 600.0));
  sub->add_option("--rate", f->rate, "New connections per second across the run (default: unlimited)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-inflight", f->max_inflight, "Endpoints assessed at once (default: 64)")
      ->check(CLI::Range(1, 4096));
  sub->add_option("--fail-on", f->fail_on, "Exit 1 when a finding has at least this severity (default: medium)")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  sub->add_option("--seed", f->seed, "Seed for ClientHello randoms and AE titles")->group("");
  f->out.add_to(*sub);
  sub->footer(
      "Each endpoint is graded from our own ClientHellos (SSLv3 to TLS 1.3, every suite, including those OpenSSL "
      "3 no longer offers) and a few full OpenSSL handshakes (certificate chain, ALPN 'dicom', client "
      "authentication without a certificate, with an untrusted one and with --tls-cert), then an A-ASSOCIATE-RQ "
      "inside the TLS proves DICOM is there; every association is released.\n"
      "Verdict: PASS when B.12 or B.13 passes; the JSON has every clause of every profile with its section.");

  return [f]() {
    if (!f->ca_file.empty())
      if (std::string e = tls::check_ca_file(f->ca_file); !e.empty()) {
        std::fprintf(stderr, "dicomguard tls: --ca-file: %s\n", e.c_str());
        return kExitError;
      }
    scan::TargetSet targets;
    if (!build_targets("tls", f->t, targets)) return kExitError;
    scan::EngineOptions eopt;
    eopt.max_inflight = f->max_inflight;
    eopt.per_host = f->conns;
    eopt.rate = f->rate;
    eopt.tls_cert = f->tls_cert;
    eopt.tls_key = f->tls_key;
    eopt.untrusted_identity = !f->quick;
    std::unique_ptr<scan::Engine> engine;
    try {
      engine = std::make_unique<scan::Engine>(eopt);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard tls: TLS client setup: %s\n", e.what());
      return kExitError;
    }
    scan::TlsOptions topt;
    topt.full = !f->quick;
    topt.trusted_cert = !f->tls_cert.empty();
    topt.associate = !f->no_associate;
    topt.budget = f->budget;
    topt.timeout = scan::Ms(static_cast<long>(f->timeout * 1000));
    topt.called_aes = f->called_aes;
    scan::TlsRecordOptions ropt{f->ca_file};

    auto sinks = f->out.make_sinks();
    Tally tally("tls", "endpoints");
    std::map<std::string, std::uint64_t> answers;
    std::uint64_t endpoints = 0, handshakes = 0, n = 0;
    scan::TargetSet::Cursor cursor(targets);
    scan::EngineStats st = engine->run(
        cursor,
        [&](const scan::Endpoint& ep) {
          scan::TlsOptions o = topt;
          o.seed = f->seed ? f->seed + ++n : 0;
          return std::make_unique<scan::TlsProbe>(ep, o);
        },
        [&](const scan::Endpoint&, std::unique_ptr<scan::Probe> p) {
          ++endpoints;
          const auto& r = static_cast<scan::TlsProbe&>(*p).result();
          handshakes += static_cast<std::uint64_t>(r.handshakes);
          Record rec = scan::tls_record(r, ropt);
          if (rec.type.empty()) {
            ++answers[r.answer.empty() ? "no-answer" : r.answer];
            return;
          }
          ++answers["tls"];
          tally.add(rec);
          sinks->prepare(rec);
          sinks->record(rec);
        });
    nlohmann::json sum = tally.summary();
    sum["endpoints"] = endpoints;
    sum["answers"] = answers;
    sum["connections"] = st.connections;
    sum["handshakes"] = handshakes;
    sum["mode"] = f->quick ? "quick" : "full";
    std::string others;
    for (const auto& [k, v] : answers)
      if (k != "tls") others += fmt::format("{}{} {}", others.empty() ? "" : ", ", v, k);
    sum["line"] = sum["line"].get<std::string>() +
                  fmt::format(" | {} endpoint{} probed with {} connection{}{}", endpoints, endpoints == 1 ? "" : "s",
                              st.connections, st.connections == 1 ? "" : "s",
                              others.empty() ? "" : " (no TLS: " + others + ")");
    if (std::string e = sinks->end(sum); !e.empty()) {
      std::fprintf(stderr, "dicomguard tls: %s\n", e.c_str());
      return kExitError;
    }
    return tally.failed(*parse_severity(f->fail_on)) ? kExitFindings : kExitClean;
  };
}

}  // namespace dg::cli
