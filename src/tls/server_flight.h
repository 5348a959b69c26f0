// A bounded parser of what a TLS server sends in answer to one ClientHello: records, alerts, and the plaintext
// handshake messages (ServerHello or HelloRetryRequest, and up to TLS 1.2 Certificate, ServerKeyExchange,
// CertificateRequest and ServerHelloDone). Untrusted bytes: every length is checked against the bytes present
// before it is used, buffered bytes are capped, and anything malformed ends in a verdict, never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dg::tls {

struct ServerHello {
  std::uint16_t legacy_version = 0;
  std::uint16_t version = 0;        // negotiated: supported_versions when present, else legacy_version
  std::uint16_t suite = 0;
  std::uint8_t compression = 0;
  bool hrr = false;                 // a HelloRetryRequest (RFC 8446 4.1.3)
  std::uint32_t gmt_unix_time = 0;  // the first 4 bytes of random (a time up to TLS 1.2 in old servers; RFC 5246)
  std::vector<std::uint16_t> extensions;
  bool reneg_info = false;          // renegotiation_info (RFC 5746)
  bool ems = false;                 // extended_master_secret (RFC 7627)
  std::optional<std::uint16_t> key_share_group;  // TLS 1.3: the selected group (HRR or ServerHello)
  std::string alpn;                 // the selected protocol, empty when none
};

struct KeyExchange {
  std::string kind;                 // ecdhe, dhe, other
  std::optional<std::uint16_t> group;  // ECDHE named curve
  int dh_bits = 0;                  // DHE: size of the prime p in bits
  std::optional<std::uint16_t> sig_scheme;  // TLS 1.2 signature scheme of the ServerKeyExchange
};

class ServerFlight {
 public:
  enum class State : std::uint8_t { need_more, complete, alert, malformed };
  // Feeds bytes as they arrive; returns the state after them. Once not need_more, further bytes are ignored.
  State feed(std::span<const std::uint8_t> bytes);
  State state() const { return state_; }

  const std::optional<ServerHello>& hello() const { return hello_; }
  const std::vector<std::vector<std::uint8_t>>& certificates() const { return certs_; }  // DER, leaf first
  const std::optional<KeyExchange>& key_exchange() const { return kx_; }
  bool certificate_request() const { return cert_request_; }
  int alert_level() const { return alert_level_; }
  int alert_description() const { return alert_desc_; }
  const std::string& error() const { return error_; }  // why malformed

  static constexpr std::size_t kMaxBuffered = 256 * 1024;
  static constexpr std::size_t kMaxFlight = 512 * 1024;  // all records of one flight, skipped messages included

 private:
  State fail(std::string why);
  State parse_records();
  State parse_handshake();
  bool on_message(std::uint8_t type, std::span<const std::uint8_t> body);
  bool parse_server_hello(std::span<const std::uint8_t> b);
  bool parse_certificate(std::span<const std::uint8_t> b);
  bool parse_key_exchange(std::span<const std::uint8_t> b);

  State state_ = State::need_more;
  std::vector<std::uint8_t> in_, hs_;
  std::size_t in_pos_ = 0;
  std::optional<ServerHello> hello_;
  std::vector<std::vector<std::uint8_t>> certs_;
  std::optional<KeyExchange> kx_;
  bool cert_request_ = false;
  bool done_ = false;
  std::size_t consumed_ = 0;
  int alert_level_ = -1, alert_desc_ = -1;
  std::string error_;
};

const char* alert_name(int description);

}  // namespace dg::tls
