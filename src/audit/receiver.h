// The syslog collector of `dicomguard audit listen`: UDP (RFC 5426, one message per datagram), TCP (RFC 6587,
// octet counting or LF framing) and TLS (RFC 5425) listeners on one Asio io_context. Bounded: a message is at most
// max_message bytes (a larger one is skipped and reported, the connection kept when its framing allows), at most
// max_connections at once (more are closed at accept and reported), a message started on a stream must be
// complete within message_timeout (a slowloris sender is cut off and reported; the others keep being served), an
// idle connection is closed after idle_timeout. Nothing here parses XML: each message goes to the callback.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dg::audit {

struct ReceiverOptions {
  std::string bind = "0.0.0.0";
  int udp_port = -1, tcp_port = -1, tls_port = -1;  // -1: no such listener; 0: any free port
  std::string tls_cert, tls_key, tls_ca;            // TLS: our identity; tls_ca: client certificates verified
  bool require_client_cert = false;                 // refuse a TLS client without a certificate from tls_ca
  std::size_t max_message = 64 * 1024;
  std::size_t max_connections = 512;
  std::chrono::milliseconds message_timeout{10000};
  std::chrono::milliseconds idle_timeout{300000};
};

struct Received {
  enum class Kind { message, refused } kind = Kind::message;
  std::string transport;  // "udp", "tcp", "tls"
  std::string sender;     // the sender's IP address
  std::uint16_t sender_port = 0;
  std::uint64_t connection = 0;  // 0 for UDP
  std::chrono::system_clock::time_point at;
  std::string data;         // message: the syslog message (framing removed)
  std::uint64_t size = 0;   // its size in bytes (refused: what was declared or seen)
  std::string reason;       // refused: "message.too-large", "connection.slow", "connection.limit",
                            // "connection.framing", "tls.handshake"
  std::string reason_text;  // refused: in words
};

class Receiver {
 public:
  // Binds the listeners at once. Throws std::runtime_error (a port in use, TLS files that do not load).
  Receiver(asio::io_context& io, ReceiverOptions o, std::function<void(Received)> on_received);
  ~Receiver();
  // (transport, port) of each listener.
  std::vector<std::pair<std::string, std::uint16_t>> listening() const;
  void stop();  // closes the listeners and every connection
  std::uint64_t connections() const;  // accepted so far

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace dg::audit
