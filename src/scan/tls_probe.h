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

#include "scan/dimse_probe.h"
#include "scan/probe.h"
#include "tls/hello.h"
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

// One ClientHello of ours and what came back.
struct HelloOutcome {
  std::string purpose;          // version, suites, order, groups, sigalgs, dhe, fallback
  std::uint16_t offered = 0;    // the version offered
  std::string outcome;          // server-hello, hello-retry, alert, closed, reset, timeout, refused, malformed, error
  std::optional<tls::ServerHello> hello;
  std::optional<tls::KeyExchange> kx;
  std::vector<std::vector<std::uint8_t>> certificates;
  bool cert_request = false;
  int alert = -1;
  std::string detail;
};

// One full OpenSSL handshake (and the association attempt inside it, when made).
struct FullHandshake {
  std::string purpose;          // no-certificate, no-dicom-alpn, untrusted-certificate, configured-certificate
  ClientIdentity identity = ClientIdentity::none;
  std::string alpn_offered;
  bool handshake = false;       // the OpenSSL handshake completed
  bool cert_requested = false;  // the server sent a CertificateRequest (seen even when the handshake failed)
  std::optional<TlsSession> session;
  std::string failure;          // why the handshake failed
  bool timed_out = false;       // the handshake got no answer within the step timeout (not a refusal)
  int retries = 0;              // times it was asked again after such a timeout
  bool associated = false;      // an association attempt was made
  std::string dicom;            // accepted, rejected, aborted, not-dicom, timeout, closed, reset, tls-failed, ...
  std::string dicom_detail;
  bool passed() const;          // the server kept talking after the handshake (no close, reset or alert)
};

struct TlsResult {
  Endpoint ep;
  bool tcp_open = false;
  bool tls = false;                                   // something answered in TLS
  std::string answer;                                 // tls, not-tls, refused, timeout, closed, ...
  std::map<std::uint16_t, bool> versions;             // measured versions: accepted or not
  std::map<std::uint16_t, std::vector<std::uint16_t>> suites;  // accepted per version, in the server's picks
  std::map<std::uint16_t, bool> suites_complete;      // the enumeration ran to a refusal (not cut by the budget)
  std::map<std::uint16_t, std::optional<bool>> server_order;   // the server chose by its own preference
  std::map<std::uint16_t, std::vector<std::uint16_t>> groups;  // key exchange groups accepted (1.3: HRR; 1.2: SKE)
  std::vector<std::uint16_t> sig_algs;                // TLS 1.2 ServerKeyExchange signature schemes accepted
  int dhe_bits = 0;                                   // DHE prime size seen (smallest)
  std::optional<bool> secure_renegotiation, extended_master_secret, compression, fallback_scsv;
  std::vector<std::vector<std::uint8_t>> chain;       // server certificates (DER, leaf first)
  std::string chain_source;                           // openssl, hello
  bool cert_request_in_hello = false;                 // a TLS 1.2-or-older answer to our hello had a CertificateRequest
  std::vector<HelloOutcome> hellos;
  std::vector<FullHandshake> full;
  int handshakes = 0;
  int retries = 0;                                    // hellos and full handshakes asked again after a timeout
                                                      // from a TLS server
  bool budget_exhausted = false;
  bool full_mode = false;
};

class TlsProbe : public Probe {
 public:
  TlsProbe(Endpoint ep, TlsOptions opt);
  Step begin() override;
  Step on_connected(const std::string& tls_version, const std::string& alpn) override;
  void on_tls_session(const TlsSession& s) override;
  Step on_data(std::span<const std::uint8_t> bytes) override;
  Step on_failure(Failure f, const std::string& detail) override;
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
};

}  // namespace dg::scan
