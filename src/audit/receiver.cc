#include "audit/receiver.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <stdexcept>

#include "audit/syslog_parse.h"
#include "net/connection.h"
#include "net/tls_context.h"

namespace dg::audit {

using asio::ip::tcp;
using asio::ip::udp;

namespace {
constexpr std::size_t kMaxMessageCap = 16u << 20;  // --max-message is clamped here
}

struct Session;

struct Receiver::Impl : std::enable_shared_from_this<Receiver::Impl> {
  asio::io_context& io;
  ReceiverOptions o;
  std::function<void(Received)> on;
  std::unique_ptr<udp::socket> udp_sock;
  std::array<char, 65536> dgram{};
  udp::endpoint from;
  std::unique_ptr<tcp::acceptor> tcp_acc, tls_acc;
  std::unique_ptr<asio::ssl::context> tls_ctx;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_id = 1, accepted = 0;
  bool stopped = false;

  Impl(asio::io_context& i, ReceiverOptions opt, std::function<void(Received)> cb)
      : io(i), o(std::move(opt)), on(std::move(cb)) {}

  void emit(Received r) {
    r.at = std::chrono::system_clock::now();
    if (on) on(std::move(r));
  }
  void refused(const std::string& transport, const std::string& addr, std::uint16_t port, std::uint64_t conn,
               std::string reason, std::string text, std::uint64_t size = 0) {
    Received r;
    r.kind = Received::Kind::refused;
    r.transport = transport;
    r.sender = addr;
    r.sender_port = port;
    r.connection = conn;
    r.reason = std::move(reason);
    r.reason_text = std::move(text);
    r.size = size;
    emit(std::move(r));
  }

  void receive_udp();
  void accept(bool tls);
};

struct Session : std::enable_shared_from_this<Session> {
  std::shared_ptr<Receiver::Impl> rx;
  net::Connection conn;
  asio::steady_timer timer;
  syslog::Framer framer;
  std::array<char, 16384> buf{};
  std::uint64_t id;
  bool tls;
  std::string addr;
  std::uint16_t port = 0;
  bool handshaken = false, closed = false, partial = false;
  std::chrono::steady_clock::time_point partial_since;

  Session(std::shared_ptr<Receiver::Impl> r, tcp::socket s, std::uint64_t i, bool t)
      : rx(std::move(r)), conn(std::move(s)), timer(rx->io), framer(rx->o.max_message), id(i), tls(t) {
    asio::error_code ec;
    auto ep = conn.socket().remote_endpoint(ec);
    if (!ec) {
      addr = ep.address().to_string();
      port = ep.port();
    }
  }
  const char* transport() const { return tls ? "tls" : "tcp"; }

  void start() {
    if (!tls) {
      handshaken = true;
      read();
      return;
    }
    arm(std::chrono::steady_clock::now() + rx->o.message_timeout);
    auto self = shared_from_this();
    // A connection closed before its first byte (a port check, a health probe) is not a failed handshake.
    wait_first_byte();
  }

  // Readiness may be reported without data (the reactor's edge-triggered flags): a non-blocking peek tells data
  // (handshake), end of stream (close without a record) and nothing yet (wait again) apart.
  void wait_first_byte() {
    auto self = shared_from_this();
    conn.socket().async_wait(tcp::socket::wait_read, [self](const asio::error_code& ec) {
      if (self->closed) return;
      if (ec) {
        self->close();
        return;
      }
      char c;
      const ssize_t n = ::recv(self->conn.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) {
        self->handshake();
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        self->wait_first_byte();
      } else {
        self->close();  // closed before its first byte: a port check, not a failed handshake
      }
    });
  }

  void handshake() {
    auto self = shared_from_this();
    conn.async_handshake(*rx->tls_ctx, net::Role::server, "", "", [self](const asio::error_code& ec) {
      if (self->closed) return;
      if (ec) {
        self->rx->refused("tls", self->addr, self->port, self->id, "tls.handshake",
                          "TLS handshake failed: " + ec.message());
        self->close();
        return;
      }
      self->handshaken = true;
      self->read();
    });
  }

  void arm(std::chrono::steady_clock::time_point at) {
    timer.expires_at(at);
    auto self = shared_from_this();
    timer.async_wait([self](const asio::error_code& ec) {
      if (ec || self->closed) return;
      if (!self->handshaken) {
        self->rx->refused("tls", self->addr, self->port, self->id, "tls.handshake",
                          "TLS handshake not finished within the message timeout");
      } else if (self->partial) {
        self->rx->refused(self->transport(), self->addr, self->port, self->id, "connection.slow",
                          "a message was not complete within the message timeout (a slow or stalled sender): "
                          "connection closed");
      }
      self->close();
    });
  }

  void read() {
    const auto now = std::chrono::steady_clock::now();
    const bool p = framer.partial();
    if (p && !partial) partial_since = now;
    partial = p;
    arm(partial ? partial_since + rx->o.message_timeout : now + rx->o.idle_timeout);
    auto self = shared_from_this();
    conn.async_read_some(asio::buffer(buf), [self](const asio::error_code& ec, std::size_t n) {
      if (self->closed) return;
      std::vector<syslog::Frame> frames;
      if (n) self->framer.feed(std::string_view(self->buf.data(), n), frames);
      if (ec) self->framer.finish(frames);
      for (auto& f : frames) self->deliver(std::move(f));
      if (ec || self->framer.dead()) {
        self->close();
        return;
      }
      self->read();
    });
  }

  void deliver(syslog::Frame f) {
    if (f.kind == syslog::Frame::Kind::message) {
      Received r;
      r.transport = transport();
      r.sender = addr;
      r.sender_port = port;
      r.connection = id;
      r.size = f.size;
      r.data = std::move(f.data);
      rx->emit(std::move(r));
    } else if (f.kind == syslog::Frame::Kind::oversized) {
      const std::size_t max = rx->o.max_message;
      const std::string what = f.size > max + 1 ? std::to_string(f.size) + " bytes" : "more than " + std::to_string(max) + " bytes";
      rx->refused(transport(), addr, port, id, "message.too-large",
                  "a message of " + what + ", above --max-message " + std::to_string(max) + ": skipped", f.size);
    } else {
      rx->refused(transport(), addr, port, id, "connection.framing",
                  "the stream is not RFC 6587 syslog (" + f.data + "): connection closed");
    }
  }

  void close() {
    if (closed) return;
    closed = true;
    timer.cancel();
    conn.abort();
    rx->sessions.erase(id);
  }
};

void Receiver::Impl::receive_udp() {
  auto self = shared_from_this();
  udp_sock->async_receive_from(asio::buffer(dgram), from, [self](const asio::error_code& ec, std::size_t n) {
    if (self->stopped) return;
    if (!ec) {
      const std::string addr = self->from.address().to_string();
      if (n > self->o.max_message) {
        self->refused("udp", addr, self->from.port(), 0, "message.too-large",
                      "a datagram of " + std::to_string(n) + " bytes, above --max-message " +
                          std::to_string(self->o.max_message) + ": skipped",
                      n);
      } else {
        Received r;
        r.transport = "udp";
        r.sender = addr;
        r.sender_port = self->from.port();
        std::string_view d(self->dgram.data(), n);
        while (!d.empty() && (d.back() == '\n' || d.back() == '\r' || d.back() == '\0')) d.remove_suffix(1);
        r.data.assign(d);
        r.size = n;
        self->emit(std::move(r));
      }
    }
    self->receive_udp();
  });
}

void Receiver::Impl::accept(bool tls) {
  auto self = shared_from_this();
  tcp::acceptor& acc = tls ? *tls_acc : *tcp_acc;
  acc.async_accept([self, tls](const asio::error_code& ec, tcp::socket s) {
    if (self->stopped) return;
    if (!ec) {
      const std::uint64_t id = self->next_id++;
      if (self->sessions.size() >= self->o.max_connections) {
        asio::error_code e2;
        auto ep = s.remote_endpoint(e2);
        self->refused(tls ? "tls" : "tcp", e2 ? "" : ep.address().to_string(), e2 ? 0 : ep.port(), id,
                      "connection.limit",
                      "more than --max-connections " + std::to_string(self->o.max_connections) +
                          " connections at once: this one was closed");
        s.close(e2);
      } else {
        ++self->accepted;
        auto sess = std::make_shared<Session>(self, std::move(s), id, tls);
        self->sessions[id] = sess;
        sess->start();
      }
    }
    self->accept(tls);
  });
}

Receiver::Receiver(asio::io_context& io, ReceiverOptions o, std::function<void(Received)> on)
    : impl_(std::make_shared<Impl>(io, std::move(o), std::move(on))) {
  auto& im = *impl_;
  if (im.o.max_message > kMaxMessageCap) im.o.max_message = kMaxMessageCap;
  asio::error_code ec;
  const auto address = asio::ip::make_address(im.o.bind, ec);
  if (ec) throw std::runtime_error("--bind: '" + im.o.bind + "' is not an IP address");
  auto listen_tcp = [&](int port, const char* what) {
    auto a = std::make_unique<tcp::acceptor>(io);
    tcp::endpoint ep(address, static_cast<std::uint16_t>(port));
    asio::error_code e;
    a->open(ep.protocol(), e);
    if (!e) a->set_option(tcp::acceptor::reuse_address(true), e);
    if (!e) a->bind(ep, e);
    if (!e) a->listen(asio::socket_base::max_listen_connections, e);
    if (e) throw std::runtime_error(std::string("--") + what + " " + std::to_string(port) + ": " + e.message());
    return a;
  };
  if (im.o.udp_port >= 0) {
    im.udp_sock = std::make_unique<udp::socket>(io);
    udp::endpoint ep(address, static_cast<std::uint16_t>(im.o.udp_port));
    asio::error_code e;
    im.udp_sock->open(ep.protocol(), e);
    if (!e) im.udp_sock->bind(ep, e);
    if (e) throw std::runtime_error("--udp " + std::to_string(im.o.udp_port) + ": " + e.message());
    asio::error_code ignored;  // a larger receive buffer for bursts, where the system allows it
    im.udp_sock->set_option(asio::socket_base::receive_buffer_size(4 << 20), ignored);
  }
  if (im.o.tcp_port >= 0) im.tcp_acc = listen_tcp(im.o.tcp_port, "tcp");
  if (im.o.tls_port >= 0) {
    if (im.o.tls_cert.empty()) throw std::runtime_error("--tls needs --tls-cert (and --tls-key)");
    net::TlsPolicy p;
    p.cert_file = im.o.tls_cert;
    p.key_file = im.o.tls_key;
    p.ca_file = im.o.tls_ca;
    p.min_version = "TLSv1.2";
    p.verify_peer = !im.o.tls_ca.empty() || im.o.require_client_cert;
    p.peer_optional = !im.o.require_client_cert;
    if (im.o.require_client_cert && im.o.tls_ca.empty())
      throw std::runtime_error("--require-client-cert needs --tls-ca");
    im.tls_ctx = net::make_context(p, net::Role::server);
    im.tls_acc = listen_tcp(im.o.tls_port, "tls");
  }
  if (!im.udp_sock && !im.tcp_acc && !im.tls_acc) throw std::runtime_error("no listener: give --udp, --tcp or --tls");
  if (im.udp_sock) im.receive_udp();
  if (im.tcp_acc) im.accept(false);
  if (im.tls_acc) im.accept(true);
}

Receiver::~Receiver() { stop(); }

std::vector<std::pair<std::string, std::uint16_t>> Receiver::listening() const {
  std::vector<std::pair<std::string, std::uint16_t>> out;
  asio::error_code ec;
  if (impl_->udp_sock) out.emplace_back("udp", impl_->udp_sock->local_endpoint(ec).port());
  if (impl_->tcp_acc) out.emplace_back("tcp", impl_->tcp_acc->local_endpoint(ec).port());
  if (impl_->tls_acc) out.emplace_back("tls", impl_->tls_acc->local_endpoint(ec).port());
  return out;
}

std::uint64_t Receiver::connections() const { return impl_->accepted; }

void Receiver::stop() {
  auto& im = *impl_;
  if (im.stopped) return;
  im.stopped = true;
  asio::error_code ec;
  if (im.udp_sock) im.udp_sock->close(ec);
  if (im.tcp_acc) im.tcp_acc->close(ec);
  if (im.tls_acc) im.tls_acc->close(ec);
  auto sessions = im.sessions;
  for (auto& [id, w] : sessions)
    if (auto s = w.lock()) s->close();
}

}  // namespace dg::audit
