// dicomguard ca: a small private certificate authority for DICOM nodes (issue 13). A root (ECDSA P-256 or
// RSA-3072, self-signed, CA:TRUE pathlen:0) and leaf certificates with both serverAuth and clientAuth (a DICOM AE
// that opens an association, including a C-MOVE sub-association, is the TLS client), SAN DNS names and addresses,
// and the AE title in the subject (OU) and as a SAN URI (urn:dicom:ae:AE). Every certificate is checked with the
// same code `dicomguard tls` grades with (tls/verdict, tls/grade) before it is written. Files are written with
// util::write_durably; private keys are mode 0600 and never printed or logged.
//
// The layout of a CA folder DIR (docs/ca.md):
//   DIR/ca.crt        the root certificate (PEM): the trust anchor to give every DICOM node
//   DIR/ca.key        the root's private key (PEM, PKCS#8, unencrypted, 0600)
//   DIR/index.json    every issuance (serial, names, AE, dates, files), newest last
//   DIR/issued/NAME.crt, NAME.key (0600), NAME-chain.pem (leaf + root)
//   DIR/retired/      the files a renewal replaced (kept, never deleted)
//
// Nothing here prints: functions return "" or an error message for a PACS administrator.
#pragma once

#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dg::ca {

enum class KeyKind { ec, rsa };  // ECDSA P-256 / RSA-3072
const char* key_kind_name(KeyKind k);  // "EC P-256", "RSA 3072"

struct InitOptions {
  std::string dir;
  KeyKind key = KeyKind::ec;
  int days = 3650;
  std::string name;  // the CN is "dicomguard private CA NAME" (default: the host name)
};

struct InitResult {
  std::string cert_path, key_path, subject, serial, not_after;
};

// Creates DIR (0700) if missing, refuses a DIR that already holds a CA.
std::string init(const InitOptions& o, InitResult& out);

// One issuance as recorded in DIR/index.json.
struct Entry {
  std::string name;                 // the file base name (the first DNS name)
  std::string serial;               // hex, upper case
  std::vector<std::string> dns, ip;
  std::string ae;
  std::string key;                  // "EC P-256" or "RSA 3072"
  std::string not_before, not_after;  // ISO 8601 UTC
  std::time_t not_after_t = 0;
  std::string cert, key_file, chain;  // paths relative to DIR
  std::string status = "current";   // current, or superseded (by a renewal)
  std::string replaces;             // serial this one renewed ("" for a first issue)
  long days_left(std::time_t now) const;
};

struct IssueOptions {
  std::string dir;
  std::vector<std::string> names;  // DNS names; the first is the CN and the file name
  std::vector<std::string> ips;    // IPv4 or IPv6 addresses
  std::string ae;                  // the AE title (PS3.5 AE VR)
  int days = 90;
  KeyKind key = KeyKind::ec;
};

// Issues a leaf; refuses when DIR/issued/NAME.crt exists already (use renew).
std::string issue(const IssueOptions& o, Entry& out);

struct Renewed {
  Entry old_entry, new_entry;
};
// Re-issues (new key, new serial, same names, addresses, AE and key type) every current certificate expiring
// within `within_days` days, or only the one named `only` (when not empty). `days`: the new lifetime.
std::string renew(const std::string& dir, int within_days, const std::string& only, int days,
                  std::vector<Renewed>& out);

// Every issuance recorded, oldest first (current and superseded).
std::string list(const std::string& dir, std::vector<Entry>& out);

// The {"type":"certificate"} JSON Lines record of an entry (docs/json-lines.md).
nlohmann::json certificate_json(const Entry& e, std::time_t now);

// Validation, exposed for tests: "" or why not.
std::string check_ae_title(const std::string& ae);
std::string check_dns_name(const std::string& name);
std::string check_ip(const std::string& ip);
std::string ae_uri(const std::string& ae);  // urn:dicom:ae:AE with characters outside RFC 3986 unreserved %-encoded

// What `dicomguard tls` would say about this certificate (leaf DER + the root DER), graded exactly as tls does:
// the tls.cert.* findings (trust checked against `ca_file`) and any failed B.12/B.13 certificate key or signature
// clause. Empty: none.
std::vector<std::string> tls_problems(const std::vector<std::uint8_t>& leaf_der,
                                      const std::vector<std::uint8_t>& root_der, const std::string& ca_file,
                                      const std::string& host);

}  // namespace dg::ca
