// dicomguard scan TARGET...: find exposed DICOM services and prove what they let a stranger do.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <stdexcept>
#include <optional>
#include <thread>

#include "cli/cmd_scan.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/shard_flag.h"
#include "cli/target_flags.h"
#include "lab/lab.h"
#include "scan/session.h"
#include "tls/cert.h"
#include "util/shard.h"

namespace dg::cli {

namespace {

// --move-probe's destination: the lab's store SCP on the given address, on a thread of its own, seen by the scan
// as a MoveListener.
class MoveDestination : public scan::MoveListener {
 public:
  explicit MoveDestination(const std::string& address) {
    const std::uint16_t port = lab_.add({"move-destination", "DGMOVEPROBE", true, {}, false, 0, address});
    ae_ = fmt::format("{}:{}", address, port);
    if (ae_.size() > 16)
      throw std::runtime_error(fmt::format("'{}' is {} characters; an AE title has at most 16 (use a shorter address)",
                                           ae_, ae_.size()));
    thread_ = std::thread([this] { lab_.run(false); });
  }
  ~MoveDestination() override {
    lab_.stop();
    if (thread_.joinable()) thread_.join();
  }
  bool received(const std::string& uid) const override { return lab_.received(uid); }
  bool associated_from(const std::string& address) const override { return lab_.associated_from(address); }
  std::string destination_ae() const override { return ae_; }

 private:
  lab::Lab lab_;
  std::string ae_;
  std::thread thread_;
};

// The progress line on stderr: after the first second, at most five times a second.
class Progress {
 public:
  explicit Progress(bool on) : on_(on) {}
  void show(const scan::ScanProgress& p) {
    if (!on_) return;
    const auto t = std::chrono::steady_clock::now();
    if (p.seconds < 1 || t - last_ < std::chrono::milliseconds(200)) return;
    last_ = t;
    const std::string of = p.total == UINT64_MAX ? std::string() : fmt::format("/{}", p.total);
    std::fprintf(stderr, "\r\033[Kscan: %llu%s endpoints, %llu services (%.0f endpoints/s)",
                 static_cast<unsigned long long>(p.endpoints), of.c_str(), static_cast<unsigned long long>(p.records),
                 static_cast<double>(p.endpoints) / p.seconds);
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool on_, shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// --list-probes: the probe table.
int list_probes(bool json) {
  for (const scan::ProbeKind& k : scan::probe_kinds()) {
    if (json) {
      nlohmann::json fields = nlohmann::json::array();
      for (auto f : k.fields) fields.push_back(std::string(f));
      std::printf("%s\n", nlohmann::json{{"type", "probe"}, {"name", std::string(k.name)}, {"help", std::string(k.help)},
                                         {"record_type", std::string(k.record_type)}, {"fields", fields}}
                               .dump()
                               .c_str());
    } else {
      std::printf("%-10s {\"type\":\"%s\"}  %s\n", std::string(k.name).c_str(), std::string(k.record_type).c_str(),
                  std::string(k.help).c_str());
    }
  }
  return kExitClean;
}
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
                "Discovery only: one association per service (random AE titles, Verification only), classify, "
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
  sub->add_option("--max-skew", f->max_skew,
                  "Seconds a host's clock may be off ours, beyond what the measurement cannot tell (default: 2); "
                  "clocks are read from HTTP Date headers, Orthanc's /tools/now, TLS 1.2 gmt_unix_time and, with --ntp, NTP")
      ->check(CLI::Range(0.0, 1e9));
  sub->add_flag("--ntp", f->ntp,
                "Opt-in: send each scanned address one NTP client request and one mode 6 READVAR request (UDP "
                "--ntp-port), and try NTS-KE (TLS, ALPN ntske/1, TCP --nts-port) on those that serve time");
  sub->add_option("--ntp-port", f->ntp_port, "UDP port of --ntp's NTP requests (default: 123)")
      ->check(CLI::Range(1, 65535));
  sub->add_option("--nts-port", f->nts_port, "TCP port of --ntp's NTS-KE handshake (default: 4460)")
      ->check(CLI::Range(1, 65535));
  sub->add_option("--baseline", f->baseline,
                  "Earlier 'scan --json' outputs (repeatable; the files of a sharded run together): also report "
                  "services that are new, gone or changed since")
      ->check(CLI::ExistingFile);
  add_shard_option(*sub, f->shard,
                  "Scan only part i of N (0 <= i < N) of the endpoints, chosen by a hash of address:port, so N "
                  "processes with the same targets and i = 0..N-1 split the scan with no coordination; every record "
                  "carries \"shard\":\"i/N\" and 'report' merges the outputs");
  sub->add_option("--fail-on", f->fail_on, "Exit 1 when a finding has at least this severity (default: medium)")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  sub->add_option("--progress", f->progress, "Progress line on stderr (auto: when stderr is a terminal)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  sub->add_option("--seed", f->seed, "Seed for random AE titles and identifiers (default: random)")
      ->group("");  // for reproducing a run; hidden
  sub->add_option("--probe", f->probe, "The probe run on every endpoint (default: service; --list-probes)");
  sub->add_flag("--list-probes", f->list_probes, "List the probes (with --json: their record fields) and exit");
  f->out.add_to(*sub);
  sub->footer("Only services that answer DICOM are reported; refused, silent and non-DICOM ports are counted in "
              "the summary. Every association is released. Nothing is stored unless --active-store is given, and no patient data is read.\n"
              "Exposure ladder: reachable < identified < ae-open < query-open < retrieve-open < write-open.\n"
              "Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage or I/O error, 3 no DICOM service "
              "answered on any endpoint (nothing was assessed).");

  return [f]() {
    if (f->list_probes) return list_probes(f->out.json);
    auto sinks = f->out.make_sinks();
    stamp_shard(*sinks, f->shard);
    return run_scan(*f, *sinks);
  };
}

int run_scan(const ScanFlags& f, Sink& sinks) {
  if (!f.ca_file.empty())
    if (std::string e = tls::check_ca_file(f.ca_file); !e.empty()) {
      std::fprintf(stderr, "dicomguard scan: --ca-file: %s\n", e.c_str());
      return kExitError;
    }
  if (!scan::find_probe_kind(f.probe)) {
    std::fprintf(stderr, "dicomguard scan: --probe: no probe named '%s' (--list-probes lists them)\n", f.probe.c_str());
    return kExitError;
  }
  scan::TargetSet targets;
  if (!build_targets("scan", {f.targets, f.lists, f.exclude, f.ports}, targets)) return kExitError;
  if (const auto shard = shard_flag(f.shard)) targets.set_shard(*shard);
  if (!f.move_probe.empty() && !f.active_store) {
    std::fprintf(stderr, "dicomguard scan: --move-probe needs --active-store (only our stored test object is moved)\n");
    return kExitError;
  }
  // --move-probe: a store listener of ours (the lab's SCP) that the servers are asked to send our test object to.
  std::unique_ptr<MoveDestination> listener;
  if (!f.move_probe.empty()) {
    try {
      listener = std::make_unique<MoveDestination>(f.move_probe);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard scan: --move-probe: %s\n", e.what());
      return kExitError;
    }
  }
  scan::ServiceMap before;
  if (!f.baseline.empty())
    if (std::string e = scan::load_baseline(f.baseline, before); !e.empty()) {
      std::fprintf(stderr, "dicomguard scan: --baseline: %s\n", e.c_str());
      return kExitError;
    }

  scan::ScanPlan plan;
  plan.mode = f.discover ? "discover" : "assess";
  plan.probe = f.probe;
  scan::DimseOptions& d = plan.options.dimse;
  d.discover = f.discover;
  d.try_tls = !f.no_tls;
  d.tls_only = f.tls_first;
  d.count_records = f.count_records;
  d.active_store = f.active_store;
  d.move_probe_ae = listener ? listener->destination_ae() : "";
  d.timeout = scan::Ms(static_cast<long>(f.timeout * 1000));
  d.called_aes = f.called_aes;
  plan.options.http.try_default_credentials = f.default_credentials;
  plan.options.http.timeout = d.timeout;
  plan.options.http.seed = f.seed;
  scan::TlsOptions& t = plan.options.tls;
  t.full = f.tls_full;
  t.trusted_cert = !f.tls_cert.empty();
  t.timeout = d.timeout;
  t.called_aes = f.called_aes;
  plan.options.seed = f.seed;
  plan.engine.max_inflight = f.max_inflight;
  plan.engine.per_host = f.per_host;
  plan.engine.rate = f.rate;
  plan.engine.tls_cert = f.tls_cert;
  plan.engine.tls_key = f.tls_key;
  plan.engine.untrusted_identity = f.tls_full;
  plan.record.ca_file = f.ca_file;
  const bool services = scan::find_probe_kind(f.probe)->record_type == "service";
  plan.learn_ae_titles = !f.discover && services;
  plan.correlate_twins = services;
  if (!services) plan.counted = "endpoints";  // the records are grades of endpoints, as `tls` writes them
  // The TLS grading pass, for the services found; a probe that grades already needs none.
  if (services && !f.no_tls_grade && (!f.discover || f.tls_full)) plan.grade_probe = "tls";
  if (!f.baseline.empty()) plan.baseline = &before;
  plan.move_listener = listener.get();
  plan.clocks = true;
  plan.max_skew = f.max_skew;
  plan.ntp = f.ntp;
  plan.ntp_port = f.ntp_port;
  plan.nts_port = f.nts_port;
  Progress progress(f.progress == "always" || (f.progress == "auto" && ::isatty(2)));
  plan.progress = [&](const scan::ScanProgress& p) { progress.show(p); };
  plan.before_output = [&] { progress.clear(); };

  std::unique_ptr<scan::ScanSession> session;
  try {
    session = std::make_unique<scan::ScanSession>(std::move(plan), sinks);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dicomguard scan: TLS client setup: %s\n", e.what());
    return kExitError;
  }
  const scan::ScanTotals totals = session->run(targets);
  progress.clear();
  const Severity fail_on = *parse_severity(f.fail_on);
  // Nothing assessed: no DICOM service answered (the service probe), or no endpoint answered TLS (--probe tls).
  const bool nothing = services ? totals.dicom_services == 0 : totals.records.count_all() == 0;
  const int code = totals.records.failed(fail_on) || totals.graded.failed(fail_on) || totals.clocks.failed(fail_on)
                       ? kExitFindings
                   : nothing                                                         ? kExitNothingFound
                                                                                     : kExitClean;
  if (std::string e = sinks.end(session->summary(totals, code)); !e.empty()) {
    std::fprintf(stderr, "dicomguard scan: %s\n", e.c_str());
    return kExitError;
  }
  return code;
}

}  // namespace dg::cli
