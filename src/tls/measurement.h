// What a TLS assessment measured on one endpoint: the answers to our own ClientHellos (versions, suites,
// groups, ...) and the full OpenSSL handshakes (certificates, client authentication, ALPN, DICOM inside). The
// scan's TLS probe fills it; the verdicts (tls/verdict.h) are computed from it; neither knows about the other's
// machinery.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tls/server_flight.h"

namespace dg::tls {

// Which client certificate a TLS connection presents: the configured one (or none), none at all, or a throwaway
// self-signed one (to see whether a server accepts any client).
enum class ClientIdentity : std::uint8_t { configured, none, untrusted };

// What a completed (or failed) OpenSSL handshake showed.
struct Session {
  std::string version, cipher, group, alpn;  // "TLSv1.3", IANA suite name, group name ("x25519"), ALPN selected
  std::vector<std::vector<std::uint8_t>> chain;  // the server's certificates, DER, leaf first
  bool cert_requested = false;               // the server sent a CertificateRequest
  bool cert_sent = false;                    // we had a client certificate to present
  bool completed = true;                     // false: the handshake failed (only cert_requested is set)
};

// One ClientHello of ours and what came back.
struct HelloOutcome {
  std::string purpose;          // version, suites, order, groups, sigalgs, dhe, fallback
  std::uint16_t offered = 0;    // the version offered
  std::string outcome;          // server-hello, hello-retry, alert, closed, reset, timeout, refused, malformed, error
  std::optional<ServerHello> hello;
  std::optional<KeyExchange> kx;
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
  std::optional<Session> session;
  std::string failure;          // why the handshake failed
  bool timed_out = false;       // the handshake got no answer within the step timeout (not a refusal)
  int retries = 0;              // times it was asked again after such a timeout
  bool associated = false;      // an association attempt was made
  std::string dicom;            // accepted, rejected, aborted, not-dicom, timeout, closed, reset, tls-failed, ...
  std::string dicom_detail;
  bool passed() const;          // the server kept talking after the handshake (no close, reset or alert)
};

struct Measurement {
  bool tls = false;                                   // something answered in TLS
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
  bool budget_exhausted = false;
  bool full_mode = false;

  const FullHandshake* find_full(const std::string& purpose) const;
};

}  // namespace dg::tls
