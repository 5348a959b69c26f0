// The TLS probe: grades a TLS endpoint from our own ClientHellos (so that versions and suites OpenSSL 3 will not
// offer are still detected) and a few full OpenSSL handshakes (certificates, client authentication, ALPN), with
// an A-ASSOCIATE-RQ inside the TLS made by the DIMSE probe itself to prove DICOM is there. Like every probe, a
// state machine that never touches a socket: one connection at a time, within a handshake budget.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "scan/clock.h"
#include "scan/dimse_probe.h"
#include "scan/probe.h"
#include "tls/hello.h"
#include "tls/measurement.h"
#include "tls/server_flight.h"

namespace dg::scan {

struct TlsOptions {
  bool full = true;             // also: server order, groups, signature schemes, ALPN without dicom, untrusted cert
  bool trusted_cert = false;    // a client certificate is configured (--tls-cert): try it too
  bool associate = true;        // A-ASSOCIATE-RQ inside the TLS (DIMSE probe, discover mode)
  int budget = 300;             // most connections (handshakes) for one endpoint
  Ms timeout{5000};
  std::vector<std::string> called_aes;
  std::uint64_t seed = 0;
};

using tls::FullHandshake;
using tls::HelloOutcome;

// The measurement of one endpoint, and what the scan knows of it besides.
struct TlsResult : tls::Measurement {
  Endpoint ep;
  bool tcp_open = false;
  std::string answer;  // tls, not-tls, refused, timeout, closed, ...
  std::vector<GmtSample> gmt;  // the gmt_unix_time of every TLS 1.2-or-older ServerHello (a time or random)
};

class TlsProbe : public Probe {
 public:
  TlsProbe(Endpoint ep, TlsOptions opt);
  Step begin() override;
  Step on_connected(const std::string& tls_version, const std::string& alpn) override;
  void on_tls_session(const TlsSession& s) override;
  Step on_data(std::span<const std::uint8_t> bytes) override;
  Step on_failure(Failure f, const std::string& detail) override;
  Record record(const RecordOptions& opt) const override;  // scan/tls_service.cc: tls_record
  ProbeFacts facts() const override;
  const TlsResult& result() const { return r_; }

 private:
  struct Job {
    enum class Kind : std::uint8_t { hello, full, plan } kind;
    tls::HelloSpec spec;
    std::string purpose;
    std::function<void(const HelloOutcome&)> on_hello;
    FullHandshake full;
    std::function<void(const FullHandshake&)> on_full;
    std::function<void()> plan;
    int retries = 0;  // times this hello or full handshake was asked again after a timeout
  };

  Step next();
  Step start_hello();
  Step hello_done(HelloOutcome o);
  Step start_full();
  Step from_dimse(Step s);
  Step full_done();
  tls::HelloSpec spec_for(std::uint16_t version, std::vector<std::uint16_t> suites);
  std::vector<std::uint16_t> candidates(std::uint16_t version) const;
  void push_hello(std::string purpose, tls::HelloSpec spec, std::function<void(const HelloOutcome&)> f,
                  bool front = false);
  void on_version(std::uint16_t v, const HelloOutcome& o);
  void enumerate_suites(std::uint16_t v, std::vector<std::uint16_t> offered);
  void plan_rest();
  static Job full_job(const char* purpose, ClientIdentity id, const char* alpn, bool associate);
  void enumerate_groups(std::uint16_t v, std::vector<std::uint16_t> offered);
  void enumerate_sigalgs(std::vector<std::uint16_t> suites, std::vector<std::uint16_t> offered);
  std::uint16_t best_legacy_version() const;  // the highest accepted version up to TLS 1.2, or 0

  Endpoint ep_;
  TlsOptions opt_;
  TlsResult r_;
  std::mt19937_64 rng_;
  std::deque<Job> jobs_;
  std::optional<Job> cur_;
  tls::ServerFlight flight_;
  std::unique_ptr<DimseProbe> dimse_;
  std::uint16_t flags_version_ = 0;  // the version whose answer set secure_renegotiation/extended_master_secret
  int reads_ = 0;                    // reads of the current hello's answer
  std::chrono::steady_clock::time_point hello_started_{};
  WallClock::time_point hello_sent_{}, hello_answered_{};  // of the current hello: for gmt_unix_time's offset
};

}  // namespace dg::scan
