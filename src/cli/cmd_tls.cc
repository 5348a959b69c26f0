// dicomguard tls TARGET...: grade DICOM-TLS endpoints against the PS3.15 Annex B secure transport profiles.
#include <cstdio>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/target_flags.h"
#include "scan/session.h"
#include "tls/cert.h"

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
    scan::ScanPlan plan;
    plan.command = "tls";
    plan.counted = "endpoints";
    plan.mode = f->quick ? "quick" : "full";
    plan.probe = "tls";
    plan.learn_ae_titles = false;
    plan.correlate_twins = false;
    plan.engine.max_inflight = f->max_inflight;
    plan.engine.per_host = f->conns;
    plan.engine.rate = f->rate;
    plan.engine.tls_cert = f->tls_cert;
    plan.engine.tls_key = f->tls_key;
    plan.engine.untrusted_identity = !f->quick;
    scan::TlsOptions& t = plan.options.tls;
    t.full = !f->quick;
    t.trusted_cert = !f->tls_cert.empty();
    t.associate = !f->no_associate;
    t.budget = f->budget;
    t.timeout = scan::Ms(static_cast<long>(f->timeout * 1000));
    t.called_aes = f->called_aes;
    plan.options.seed = f->seed;
    plan.record.ca_file = f->ca_file;

    auto sinks = f->out.make_sinks();
    std::unique_ptr<scan::ScanSession> session;
    try {
      session = std::make_unique<scan::ScanSession>(std::move(plan), *sinks);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard tls: TLS client setup: %s\n", e.what());
      return kExitError;
    }
    const scan::ScanTotals totals = session->run(targets);
    const int code = totals.records.failed(*parse_severity(f->fail_on)) ? kExitFindings : kExitClean;
    if (std::string e = sinks->end(session->summary(totals, code)); !e.empty()) {
      std::fprintf(stderr, "dicomguard tls: %s\n", e.c_str());
      return kExitError;
    }
    return code;
  };
}

}  // namespace dg::cli
