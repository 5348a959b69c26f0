// The verdicts of a TLS assessment, from what was measured (tls/measurement.h): the facts the profiles are graded
// on, the profile grades (PS3.15 Annex B), ALPN, the certificate's name and trust, client authentication, DICOM
// inside the TLS, and the tls.* findings. The one place where TLS measurements become verdicts and check IDs;
// thresholds come from data/tls_profiles.json (the strictest current profile), not from here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "findings/finding.h"
#include "tls/grade.h"
#include "tls/measurement.h"

namespace dg::tls {

// Whether the server authenticates clients by certificate, from the handshakes without one, with an untrusted
// one and with the configured one.
enum class ClientAuth : std::uint8_t {
  not_measured,
  not_requested,    // connects clients without a certificate and never asks for one
  optional,         // asks, but connects clients without one
  any_certificate,  // accepts any certificate, even an untrusted self-signed one
  enforced,         // refuses clients without one and with an untrusted one
  required,         // refuses clients without one (an untrusted one was not tried or got no answer)
};
const char* client_auth_name(ClientAuth c);  // the JSON's "not-measured", "not-requested", ...

struct AlpnVerdict {
  std::optional<bool> dicom_selected;  // when a handshake offering "dicom" completed
  std::string via;                     // which handshake it came from
  std::string without_dicom;           // accepted, refused, not-measured, or empty (not tried)
  std::string not_measured;            // why it could not be measured
};

struct CertVerdict {
  std::optional<bool> name_match, trusted;
  std::string trust_error;
};

struct DicomVerdict {
  std::string association = "not-measured";  // accepted, rejected, aborted, no-dicom-answer, not-measured
  std::string via;
  std::string not_measured;
  bool found() const { return association == "accepted" || association == "rejected" || association == "aborted"; }
};

struct Verdicts {
  Facts facts;
  std::vector<ProfileResult> graded;
  std::vector<std::string> meets;  // profiles passed
  const ProfileResult* b12 = nullptr;
  const ProfileResult* b13 = nullptr;
  bool current = false;            // meets B.12 or B.13
  AlpnVerdict alpn;
  CertVerdict cert;
  ClientAuth client_auth = ClientAuth::not_measured;
  DicomVerdict dicom;
  std::vector<Finding> findings;
};

struct AssessOptions {
  std::string target;       // host:port, for the findings
  std::string name;         // host name or address the certificate should name
  std::string ca_file;      // trust anchors for chain verification (default: the system store)
};

// The grader's facts alone (exposed for tests).
Facts facts_of(const Measurement& m);
Verdicts assess(const Measurement& m, const AssessOptions& o);

// Minimum key sizes in bits (rsa, dhe, ecdhe, ecdsa) required by the current profiles (B.12, B.13): the
// strictest of their min_key_bits clauses.
int min_key_bits(const std::string& key);

// Why a full handshake measured nothing, in a few words.
std::string why_not_measured(const FullHandshake& f);

}  // namespace dg::tls
