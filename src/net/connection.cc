#include "net/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio/connect.hpp>
#include <asio/ip/address.hpp>
#include <asio/write.hpp>

namespace dg::net {

namespace {

// Sees every handshake message, TLS 1.3's encrypted ones included: notes a CertificateRequest.
void on_tls_message(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void* arg) {
  if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 && static_cast<const unsigned char*>(buf)[0] == 13)
    *static_cast<bool*>(arg) = true;
}

}  // namespace

Connection::Connection(asio::io_context& io) : sock_(io) {}
Connection::Connection(tcp::socket accepted) : sock_(std::move(accepted)) {
  asio::error_code ignore;
  sock_.set_option(tcp::no_delay(true), ignore);
}
Connection::~Connection() = default;

void Connection::async_connect(const tcp::endpoint& to, DoneHandler done) {
  sock_.async_connect(to, [this, done = std::move(done)](const asio::error_code& ec) {
    if (!ec) {
      asio::error_code ignore;
      sock_.set_option(tcp::no_delay(true), ignore);
    }
    done(ec);
  });
}

void Connection::async_handshake(asio::ssl::context& ctx, Role role, const std::string& server_name,
                                 const std::string& alpn, DoneHandler done) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, ctx);
  server_side_ = role == Role::server;
  SSL* ssl = tls_->native_handle();
  cert_requested_ = false;
  SSL_set_msg_callback(ssl, &on_tls_message);
  SSL_set_msg_callback_arg(ssl, &cert_requested_);
  if (role == Role::client) {
    if (!server_name.empty()) {
      asio::error_code not_ip;
      const bool is_ip = !asio::ip::make_address(server_name, not_ip).is_unspecified() && !not_ip;
      const bool verify = SSL_CTX_get_verify_mode(ctx.native_handle()) & SSL_VERIFY_PEER;
      if (is_ip) {
        // An address: matched against the certificate's IP SANs; SNI never carries one (RFC 6066 section 3).
        if (verify) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, server_name.c_str());
        if (verify) SSL_set1_host(ssl, server_name.c_str());
      }
    }
    if (!alpn.empty() && alpn.size() < 256) {
      std::vector<unsigned char> wire;
      wire.push_back(static_cast<unsigned char>(alpn.size()));
      wire.insert(wire.end(), alpn.begin(), alpn.end());
      SSL_set_alpn_protos(ssl, wire.data(), static_cast<unsigned>(wire.size()));
    }
  }
  tls_->async_handshake(role == Role::client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
                        std::move(done));
}

void Connection::async_read_some(asio::mutable_buffer into, IoHandler done) {
  if (tls_) tls_->async_read_some(into, std::move(done));
  else sock_.async_read_some(into, std::move(done));
}

void Connection::async_write(asio::const_buffer from, IoHandler done) {
  if (tls_) asio::async_write(*tls_, from, std::move(done));
  else asio::async_write(sock_, from, std::move(done));
}

tls::Session Connection::session(bool completed) const {
  tls::Session s;
  s.completed = completed;
  s.cert_requested = cert_requested_;
  if (!completed || !tls_) return s;
  SSL* ssl = tls_->native_handle();
  s.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) s.cipher = SSL_CIPHER_standard_name(c);
  if (const int nid = SSL_get_negotiated_group(ssl); nid > 0) {
    const char* n = SSL_group_to_name(ssl, nid);
    s.group = n ? n : OBJ_nid2sn(nid);
  }
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  if (proto) s.alpn.assign(reinterpret_cast<const char*>(proto), len);
  // A server's view of the chain leaves out the client's own certificate (OpenSSL's rule): it goes first.
  if (server_side_)
    if (X509* leaf = SSL_get_peer_certificate(ssl)) {
      unsigned char* der = nullptr;
      const int n = i2d_X509(leaf, &der);
      if (n > 0) s.chain.emplace_back(der, der + n);
      OPENSSL_free(der);
      X509_free(leaf);
    }
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl))
    for (int i = 0; i < sk_X509_num(chain) && s.chain.size() < 16; ++i) {
      unsigned char* der = nullptr;
      const int n = i2d_X509(sk_X509_value(chain, i), &der);
      if (n > 0) s.chain.emplace_back(der, der + n);
      OPENSSL_free(der);
    }
  s.cert_sent = SSL_get_certificate(ssl) != nullptr;
  return s;
}

std::string Connection::remote_address() const {
  asio::error_code ec;
  const auto peer = sock_.remote_endpoint(ec);
  return ec ? std::string() : peer.address().to_string();
}

void Connection::quick_ack() {
#ifdef TCP_QUICKACK
  const int one = 1;
  ::setsockopt(sock_.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
}

void Connection::abort() {
  asio::error_code ignore;
  sock_.cancel(ignore);
  sock_.close(ignore);
}

void Connection::close() {
  asio::error_code ignore;
  tls_.reset();
  // close() alone sends the FIN (or a RST when unread data is left, as shutdown then close would): the socket is
  // never shared, so a shutdown first only costs a system call per connection.
  if (sock_.is_open()) sock_.close(ignore);
}

}  // namespace dg::net
