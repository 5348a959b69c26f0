// Grades what was measured on a TLS endpoint against the PS3.15 Annex B secure transport connection profiles,
// clause by clause. The profiles and their clauses are data (data/tls_profiles.json, embedded at build time);
// each clause has one rule kind implemented here.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tls/cert.h"

namespace dg::tls {

// The measurements the grader reads (names as in the JSON: "TLSv1.2", IANA suite names, group names).
struct Facts {
  std::map<std::string, bool> versions;                        // measured versions: accepted or refused
  std::map<std::string, std::vector<std::string>> suites;      // accepted per version
  std::map<std::string, bool> suites_complete;                 // the enumeration of that version finished
  std::vector<std::pair<std::string, int>> groups;             // ephemeral groups seen, with their size in bits
  int dhe_bits = 0;                                            // DHE prime size seen (0: none seen)
  std::vector<CertInfo> chain;                                 // leaf first
  std::optional<bool> compression, secure_renegotiation, extended_master_secret, fallback_scsv;
  std::optional<std::string> alpn;                             // selected when "dicom" was offered
  std::optional<bool> client_cert_requested;
};

struct Clause {
  std::string id, section, text, note;
  std::string rule_kind;
  std::string verdict;  // pass, fail, not-measured
  std::string detail;   // what was seen
};

struct ProfileResult {
  std::string id, title, status, section;
  std::string verdict;  // pass, fail, not-measured
  std::vector<Clause> clauses;
};

struct ProfileInfo {
  std::string id, title, status, section;
};
const std::vector<ProfileInfo>& profiles();  // B.12, B.13, B.10, B.11, B.9, B.3, B.1

std::vector<ProfileResult> grade(const Facts& f);

// What a profile lets a connection negotiate, read from its clauses: the versions it does not rule out (within
// its versions_any list, when it has one) and, per version, the suites its suite clauses name (IANA names; none
// listed: that version's defaults, which for TLS 1.3 are all AEAD). For a TLS policy that says "B.12".
struct Transport {
  std::vector<std::string> versions;                       // "TLSv1.2", "TLSv1.3", oldest first
  std::map<std::string, std::vector<std::string>> suites;  // version -> suites ("any": every version up to 1.2)
};
// nullopt when there is no profile of that ID.
std::optional<Transport> transport_of(const std::string& profile_id);

}  // namespace dg::tls
