// Our own ClientHello: any version from SSLv3 to TLS 1.3, any cipher suite list (including the ones OpenSSL 3 no
// longer offers), and exactly the extensions a measurement needs. The bytes are one complete TLS record.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dg::tls {

using Bytes = std::vector<std::uint8_t>;

struct HelloSpec {
  std::uint16_t version = 0x0303;       // legacy_version: the highest version offered up to TLS 1.2
  std::vector<std::uint16_t> versions;  // supported_versions extension (TLS 1.3); empty: not sent
  std::vector<std::uint16_t> suites;
  std::vector<std::uint16_t> groups;    // supported_groups (+ ec_point_formats); empty: not sent
  std::vector<std::uint16_t> sig_algs;  // signature_algorithms; empty: not sent
  std::vector<std::string> alpn;        // ALPN protocols; empty: no ALPN extension
  std::string sni;                      // server_name when a host name (never an address literal)
  bool fallback_scsv = false;           // TLS_FALLBACK_SCSV (RFC 7507)
  bool reneg_scsv = true;               // TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746)
  bool ems = true;                      // extended_master_secret (RFC 7627)
  bool deflate = false;                 // also offer DEFLATE compression (CRIME)
  bool key_share = false;               // key_share with no shares: the server answers with a HelloRetryRequest
  std::array<std::uint8_t, 32> random{};
};

Bytes build_client_hello(const HelloSpec& spec);

// The client part of the lists we offer by default.
std::vector<std::uint16_t> default_groups();    // every named group we know, strongest first
std::vector<std::uint16_t> default_sig_algs();  // every signature scheme we know

}  // namespace dg::tls
