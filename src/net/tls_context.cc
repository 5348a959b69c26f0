#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <stdexcept>

#include "tls/grade.h"
#include "tls/self_signed.h"

namespace dg::net {

namespace {

std::string openssl_error(const std::string& what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return what;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return what + ": " + buf;
}

int version_code(const std::string& v) {
  if (v.empty() || v == "any") return 0;  // the library's bound ("any" as a minimum: the lowest it can do)
  if (v == "SSLv3") return SSL3_VERSION;
  if (v == "TLSv1.0") return TLS1_VERSION;
  if (v == "TLSv1.1") return TLS1_1_VERSION;
  if (v == "TLSv1.2") return TLS1_2_VERSION;
  if (v == "TLSv1.3") return TLS1_3_VERSION;
  throw std::runtime_error("not a TLS version: " + v);
}

std::vector<unsigned char> alpn_wire(const std::vector<std::string>& protos) {
  std::vector<unsigned char> w;
  for (const auto& p : protos) {
    if (p.empty() || p.size() > 255) throw std::runtime_error("not an ALPN protocol name: '" + p + "'");
    w.push_back(static_cast<unsigned char>(p.size()));
    w.insert(w.end(), p.begin(), p.end());
  }
  return w;
}

// Server: the first of our protocols (in our order) that the client offers; none: no ALPN in the answer.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void* arg) {
  const auto& ours = *static_cast<const std::vector<std::string>*>(arg);
  for (const std::string& p : ours)
    for (unsigned int i = 0; i < inlen;) {
      const unsigned int n = in[i];
      if (i + 1 + n > inlen) break;
      if (n == p.size() && std::memcmp(in + i + 1, p.data(), n) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(n);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + n;
    }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

TlsPolicy TlsPolicy::permissive() {
  TlsPolicy p;
  p.min_version = "any";
  p.security_level = 0;
  p.ciphers = "ALL:COMPLEMENTOFALL:@SECLEVEL=0";
  return p;
}

TlsPolicy TlsPolicy::from_profile(const std::string& id) {
  const auto t = tls::transport_of(id);
  if (!t || t->versions.empty()) throw std::invalid_argument("no TLS profile named '" + id + "'");
  TlsPolicy p;
  p.verify_peer = true;
  p.min_version = t->versions.front();
  p.max_version = t->versions.back();
  std::vector<std::string> legacy;
  for (const char* v : {"TLSv1.2", "any"})
    if (auto it = t->suites.find(v); it != t->suites.end()) legacy.insert(legacy.end(), it->second.begin(), it->second.end());
  if (!legacy.empty()) p.ciphers = openssl_cipher_list(legacy);
  if (auto it = t->suites.find("TLSv1.3"); it != t->suites.end())
    for (const auto& s : it->second) p.ciphersuites += (p.ciphersuites.empty() ? "" : ":") + s;
  return p;
}

std::string openssl_cipher_list(const std::vector<std::string>& iana) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  if (!ctx) return {};
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_cipher_list(ctx.get(), "ALL:COMPLEMENTOFALL:@SECLEVEL=0");
  std::string out;
  STACK_OF(SSL_CIPHER)* all = SSL_CTX_get_ciphers(ctx.get());
  for (const std::string& name : iana)
    for (int i = 0; i < sk_SSL_CIPHER_num(all); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(all, i);
      if (const char* std_name = SSL_CIPHER_standard_name(c); std_name && name == std_name) {
        out += (out.empty() ? "" : ":") + std::string(SSL_CIPHER_get_name(c));
        break;
      }
    }
  return out;
}

std::unique_ptr<asio::ssl::context> make_context(const TlsPolicy& p, Role role) {
  auto ctx = std::make_unique<asio::ssl::context>(role == Role::client ? asio::ssl::context::tls_client
                                                                       : asio::ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();
  if (p.security_level >= 0) SSL_CTX_set_security_level(c, p.security_level);
  if (p.server_preference) SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (int v = version_code(p.min_version); v || !p.min_version.empty()) SSL_CTX_set_min_proto_version(c, v);
  if (int v = version_code(p.max_version)) SSL_CTX_set_max_proto_version(c, v);
  if (!p.ciphers.empty() && SSL_CTX_set_cipher_list(c, p.ciphers.c_str()) != 1)
    throw std::runtime_error(openssl_error("no cipher suite of '" + p.ciphers + "' is available"));
  if (!p.ciphersuites.empty() && SSL_CTX_set_ciphersuites(c, p.ciphersuites.c_str()) != 1)
    throw std::runtime_error(openssl_error("no TLS 1.3 suite of '" + p.ciphersuites + "' is available"));

  if (!p.self_signed_cn.empty()) {
    tls::use_self_signed(c, p.self_signed_cn, p.self_signed_ec ? tls::KeyType::ec_p256 : tls::KeyType::rsa2048);
  } else if (!p.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(c, p.cert_file.c_str()) != 1)
      throw std::runtime_error(openssl_error("cannot use the certificate " + p.cert_file));
    const std::string key = p.key_file.empty() ? p.cert_file : p.key_file;
    if (SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error(openssl_error("cannot use the private key " + key));
    if (SSL_CTX_check_private_key(c) != 1)
      throw std::runtime_error(openssl_error("the private key " + key + " does not match " + p.cert_file));
  }

  if (p.verify_peer) {
    if (p.ca_file.empty() ? SSL_CTX_set_default_verify_paths(c) != 1
                          : SSL_CTX_load_verify_locations(c, p.ca_file.c_str(), nullptr) != 1)
      throw std::runtime_error(openssl_error("cannot load trust anchors " + (p.ca_file.empty() ? "(the system store)" : p.ca_file)));
    SSL_CTX_set_verify(c, role == Role::client || p.peer_optional ? SSL_VERIFY_PEER
                                                                  : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
    if (role == Role::server) {
      // The client's certificate must name a CA the server trusts: send their names in the CertificateRequest.
      if (!p.ca_file.empty())
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(p.ca_file.c_str())) SSL_CTX_set_client_CA_list(c, names);
      static const unsigned char sid[] = "dicomguard";
      SSL_CTX_set_session_id_context(c, sid, sizeof sid - 1);
    }
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  }

  if (!p.alpn.empty()) {
    if (role == Role::client) {
      const auto wire = alpn_wire(p.alpn);
      SSL_CTX_set_alpn_protos(c, wire.data(), static_cast<unsigned>(wire.size()));
    } else {
      alpn_wire(p.alpn);  // validates the names
      // The callback's list is owned by the context: freed with it, through its ex_data.
      auto* keep = new std::vector<std::string>(p.alpn);
      SSL_CTX_set_alpn_select_cb(c, select_alpn, keep);
      static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr,
                                                        [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
                                                          delete static_cast<std::vector<std::string>*>(ptr);
                                                        });
      SSL_CTX_set_ex_data(c, index, keep);
    }
  }
  return ctx;
}

}  // namespace dg::net
