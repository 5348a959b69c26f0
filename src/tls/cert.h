// What a server's certificate says, read with OpenSSL from its DER bytes: names, dates, key, signature, and
// whether the chain verifies against the system's (or a given) trust store. No patient data is involved.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace dg::tls {

struct CertInfo {
  bool parsed = false;
  std::string subject, issuer;          // one-line RFC 2253 names
  std::string not_before, not_after;    // ISO 8601, UTC
  bool expired = false, not_yet_valid = false;
  long days_left = 0;                   // until notAfter (negative when expired)
  std::string key_type;                 // RSA, EC, Ed25519, Ed448, DSA, DH
  int key_bits = 0;
  std::string curve;                    // EC: prime256v1, secp384r1, ...
  std::string signature;                // sha256WithRSAEncryption, ecdsa-with-SHA256, ...
  std::string sig_hash;                 // SHA-256, SHA-1, MD5, ... ("" when the scheme has none, e.g. Ed25519)
  int sig_hash_bits = 0;                // security bits of the hash (SHA-1: 63, SHA-256: 128); 0 when unknown
  bool self_signed = false;             // issuer == subject and the signature verifies with its own key
  bool ca = false;
  std::vector<std::string> san_dns, san_ip, eku;  // eku: serverAuth, clientAuth, ...
  std::string sha256;                   // fingerprint of the DER, hex
};

CertInfo parse_certificate(const std::vector<std::uint8_t>& der, std::time_t now);

// Whether the leaf's names cover `host` (a DNS name or an IP address literal).
bool certificate_matches(const std::vector<std::uint8_t>& leaf_der, const std::string& host);

struct ChainCheck {
  bool trusted = false;
  std::string error;  // OpenSSL's reason when not trusted
};
// An empty string when `ca_file` holds at least one PEM certificate OpenSSL can load, else why not.
std::string check_ca_file(const std::string& ca_file);

// Verifies the chain (leaf first) against `ca_file` (PEM) or, when empty, the system trust store.
ChainCheck verify_chain(const std::vector<std::vector<std::uint8_t>>& chain, const std::string& ca_file);

}  // namespace dg::tls
