// TLS contexts from a policy: what to verify, what identity to present, what to offer. The one place OpenSSL
// contexts are configured, for the scan's permissive client, the lab's servers, and what comes next (a gateway
// that must verify its peers, a syslog-over-TLS sender).
#pragma once

#include <asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

namespace dg::net {

enum class Role { client, server };

struct TlsPolicy {
  // Verification. Client: the server's chain against ca_file (or the system store), and its name against
  // verify_name when given. Server: a client certificate is required and verified against ca_file.
  bool verify_peer = false;
  bool peer_optional = false;  // server: ask for a client certificate and verify it when one is sent, not require it
  std::string ca_file;
  std::string verify_name;
  // Our identity: a certificate chain and key (PEM), or a throwaway self-signed one made in memory.
  std::string cert_file, key_file;   // key_file empty: the key is in cert_file
  std::string self_signed_cn;        // non-empty: make one with this CN (cert_file must then be empty)
  bool self_signed_ec = false;       // the throwaway key: EC P-256 (true) or RSA 2048
  // What to offer. Client: ALPN protocols offered (in order); server: accepted, the first the client also offers
  // in the server's order. Versions: "TLSv1.2" ... ("" for the library's default bound, "any": the lowest the
  // library can do); suites: OpenSSL cipher list for
  // TLS 1.2 and older, and the TLS 1.3 ciphersuites (empty: the library's defaults).
  std::vector<std::string> alpn;
  std::string min_version, max_version;
  std::string ciphers, ciphersuites;
  bool server_preference = false;  // server: choose by our order of suites, not the client's
  int security_level = -1;  // -1: OpenSSL's default; 0 allows what OpenSSL would refuse (the scan's client)

  // Everything this OpenSSL can still do, nothing verified: the scan measures servers with its own ClientHellos
  // and uses OpenSSL's handshakes only for what they show.
  static TlsPolicy permissive();
  // The versions and suites a PS3.15 Annex B profile allows ("B.12", "B.13", ...), verification on. Throws
  // std::invalid_argument for an unknown profile.
  static TlsPolicy from_profile(const std::string& profile_id);
};

// Throws std::runtime_error with a message a user can act on (a missing certificate file, a key that does not
// match, a cipher list OpenSSL rejects).
std::unique_ptr<asio::ssl::context> make_context(const TlsPolicy& p, Role role);

// OpenSSL names of IANA suite names (TLS 1.2 and older) this OpenSSL knows; the others are left out.
std::string openssl_cipher_list(const std::vector<std::string>& iana_names);

}  // namespace dg::net
