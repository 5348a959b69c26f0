// TLS cipher suites, versions, named groups and signature schemes: the tables our own ClientHello offers and
// the grader reads. Generated from OpenSSL's headers (suite_table.inc, tools/gen_suites.py) so that suites
// OpenSSL 3 no longer negotiates (export, RC4, DES, NULL, anon, ...) can still be offered and recognised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::tls {

struct Suite {
  std::uint16_t code;
  const char* name;  // IANA name
  const char* kx;    // ECDHE, DHE, RSA, DH, ECDH, PSK, SRP, any (TLS 1.3), ...
  const char* auth;  // RSA, ECDSA, DSS, anon, PSK, any (TLS 1.3)
  const char* cipher;
  const char* mac;   // AEAD, SHA, SHA256, SHA384, MD5
  int bits;          // cipher strength (3DES: 112)
  const char* classes;  // " null anon export rc4 des 3des idea seed camellia aria cbc md5 sha1-mac static-rsa ... "
  bool is(std::string_view cls) const;  // in one of the classes above
  bool tls13() const { return is("tls13"); }
};

const std::vector<Suite>& all_suites();
const Suite* find_suite(std::uint16_t code);
const Suite* find_suite(std::string_view iana_name);
std::string suite_name(std::uint16_t code);  // IANA name, or "0xC0DE" when unknown

// Weak: NULL, anonymous, export, RC4, DES, 3DES, MD5 or under 112 bits (what tls.cipher.weak reports).
bool weak_suite(const Suite& s);
std::string weak_reason(const Suite& s);

// Protocol versions as they appear on the wire.
enum Version : std::uint16_t { SSLv3 = 0x0300, TLSv1_0 = 0x0301, TLSv1_1 = 0x0302, TLSv1_2 = 0x0303, TLSv1_3 = 0x0304 };
std::string version_name(std::uint16_t v);  // "SSLv3", "TLSv1.0", ... or "0x0305"
std::optional<std::uint16_t> parse_version(std::string_view name);
inline const std::uint16_t kVersions[] = {SSLv3, TLSv1_0, TLSv1_1, TLSv1_2, TLSv1_3};

// Named groups (RFC 8446 / 7919 / 8422 registry) with their size in bits for the grader.
struct Group {
  std::uint16_t code;
  const char* name;  // IANA name: secp256r1, x25519, ffdhe2048, ...
  int bits;          // secp256r1 256, x25519 253, x448 448, ffdhe2048 2048
  bool ffdhe;
};
const std::vector<Group>& all_groups();
const Group* find_group(std::uint16_t code);
std::string group_name(std::uint16_t code);

// Signature schemes (RFC 8446 4.2.3; TLS 1.2 hash/signature pairs share the code space).
struct SigScheme {
  std::uint16_t code;
  const char* name;  // rsa_pkcs1_sha256, ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha1, ...
};
const std::vector<SigScheme>& all_sig_schemes();
std::string sig_scheme_name(std::uint16_t code);

}  // namespace dg::tls
