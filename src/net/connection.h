// One TCP connection, plain or in TLS, client or server side: the socket and TLS code the scan engine, the lab
// and what comes next (gateway, syslog over TLS) share. Asynchronous on the caller's io_context; what the
// handshake showed (version, suite, group, ALPN, chain, whether a client certificate was asked for) is read back
// as a tls::Session.
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <functional>
#include <memory>
#include <string>

#include "net/tls_context.h"
#include "tls/measurement.h"

namespace dg::net {

using tcp = asio::ip::tcp;
using DoneHandler = std::function<void(const asio::error_code&)>;
using IoHandler = std::function<void(const asio::error_code&, std::size_t)>;

class Connection {
 public:
  explicit Connection(asio::io_context& io);
  explicit Connection(tcp::socket accepted);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  tcp::socket& socket() { return sock_; }
  bool is_open() const { return sock_.is_open(); }
  bool is_tls() const { return tls_ != nullptr; }

  // Opens the TCP connection (TCP_NODELAY on once connected).
  void async_connect(const tcp::endpoint& to, DoneHandler done);
  // Wraps the open connection in TLS and runs the handshake. server_name: SNI (client), and the name the
  // server's certificate must match when the context verifies; alpn: the one protocol to offer instead of the
  // context's list ("" keeps the context's). A CertificateRequest from the server is noticed in every case.
  void async_handshake(asio::ssl::context& ctx, Role role, const std::string& server_name, const std::string& alpn,
                       DoneHandler done);
  void async_read_some(asio::mutable_buffer into, IoHandler done);
  void async_write(asio::const_buffer from, IoHandler done);

  // After a handshake (completed = false when it failed: only cert_requested is then meaningful).
  tls::Session session(bool completed = true) const;
  bool cert_requested() const { return cert_requested_; }
  std::string remote_address() const;

  // Acknowledge at once instead of delaying ACKs by up to 40 ms: servers that leave Nagle's algorithm on hold
  // their next small write until our ACK arrives. Linux clears the option by itself, so it is set per read.
  void quick_ack();
  // Cancels what is pending and closes the socket (a timeout); handlers run with operation_aborted.
  void abort();
  // Drops the TLS state and closes (the FIN, or a RST if unread data is left); no close_notify is sent or waited for.
  void close();

 private:
  tcp::socket sock_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  bool cert_requested_ = false;
  bool server_side_ = false;
};

}  // namespace dg::net
