#include "lab/lab.h"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <csignal>
#include <deque>
#include <mutex>
#include <set>
#include <stdexcept>

#include "lab/scp.h"
#include "net/connection.h"
#include "net/tls_context.h"

namespace dg::lab {

using tcp = asio::ip::tcp;

const std::vector<Synthetic>& synthetic_patients() {
  static const std::vector<Synthetic> v = {
      {"LABSYNTHETIC^ALPHA", "LAB-0001", "2.25.319038944579669305514170399698418424328.2.1", "20240101"},
      {"LABSYNTHETIC^BRAVO", "LAB-0002", "2.25.319038944579669305514170399698418424328.2.2", "20240202"},
      {"LABSYNTHETIC^CHARLIE", "LAB-0003", "2.25.319038944579669305514170399698418424328.2.3", "20240303"},
  };
  return v;
}

struct Lab::Impl : ScpEvents {
  asio::io_context io{1};
  std::unique_ptr<asio::ssl::context> tls_ctx;  // made when the first TLS server is added
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::atomic<std::uint64_t> associations{0}, stored_count{0};
  mutable std::mutex received_mu;
  std::set<std::string> received;  // SOP Instance UIDs of the objects stored (discarded; UIDs only)
  std::set<std::string> peers;     // addresses that opened an association

  void associated(const std::string& peer) override {
    ++associations;
    std::lock_guard lk(received_mu);
    if (!peer.empty() && peers.size() < 100000) peers.insert(peer);
  }
  void stored(const std::string& uid) override {
    ++stored_count;
    std::lock_guard lk(received_mu);
    if (received.size() < 100000) received.insert(uid);
  }

  // One connection: bytes between the socket and the SCP, an idle timeout, nothing else.
  struct Session : std::enable_shared_from_this<Session> {
    Impl& lab;
    const ServerConfig& cfg;
    net::Connection conn;
    Scp scp;
    asio::steady_timer idle;
    std::array<std::uint8_t, 16384> buf{};
    std::deque<Bytes> outq;
    bool writing = false, closing = false;

    Session(Impl& l, const ServerConfig& c, tcp::socket s)
        : lab(l), cfg(c), conn(std::move(s)), scp(c, l, conn.remote_address()), idle(l.io) {}

    void start() {
      arm();
      if (!cfg.tls) return read();
      conn.async_handshake(*lab.tls_ctx, net::Role::server, {}, {}, [self = shared_from_this()](const asio::error_code& ec) {
        if (ec) return self->close();
        self->read();
      });
    }
    void arm() {
      idle.expires_after(std::chrono::seconds(30));
      idle.async_wait([self = shared_from_this()](const asio::error_code& ec) {
        if (!ec) self->close();
      });
    }
    void close() {
      idle.cancel();
      conn.abort();
    }
    void read() {
      conn.async_read_some(asio::buffer(buf), [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
        if (ec) return self->close();
        self->arm();
        Scp::Output out = self->scp.on_bytes({self->buf.data(), n});
        for (Bytes& b : out.send) self->send(std::move(b));
        if (out.close) {
          self->closing = true;
          if (!self->writing) return self->close();
          return;
        }
        self->read();
      });
    }
    void send(Bytes b) {
      outq.push_back(std::move(b));
      if (!writing) write_next();
    }
    void write_next() {
      if (outq.empty()) {
        writing = false;
        if (closing) close();
        return;
      }
      writing = true;
      conn.async_write(asio::buffer(outq.front()), [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
        if (ec) return self->close();
        self->outq.pop_front();
        self->write_next();
      });
    }
  };

  std::vector<std::unique_ptr<ServerConfig>> configs;

  void accept(tcp::acceptor& a, const ServerConfig& c) {
    a.async_accept([this, &a, &c](const asio::error_code& ec, tcp::socket s) {
      if (ec) return;
      asio::error_code ignore;
      s.set_option(tcp::no_delay(true), ignore);
      std::make_shared<Session>(*this, c, std::move(s))->start();
      accept(a, c);
    });
  }
};

Lab::Lab() : impl_(std::make_unique<Impl>()) {}
Lab::~Lab() = default;

std::uint16_t Lab::add(const ServerConfig& cfg) {
  auto& c = *impl_->configs.emplace_back(std::make_unique<ServerConfig>(cfg));
  if (c.tls && !impl_->tls_ctx) {
    // TLS 1.2 with the RFC 9325 ECDHE AES-GCM and ChaCha20 suites only, and TLS 1.3 (PS3.15 B.12); ALPN "dicom"
    // when offered; a throwaway self-signed RSA certificate.
    net::TlsPolicy p;
    p.self_signed_cn = "dicomguard-lab";
    p.min_version = "TLSv1.2";
    p.ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
    p.alpn = {"dicom"};
    impl_->tls_ctx = net::make_context(p, net::Role::server);
  }
  auto a = std::make_unique<tcp::acceptor>(impl_->io);
  asio::error_code ec;
  const auto addr = asio::ip::make_address(c.bind, ec);
  if (ec) throw std::runtime_error("not an address to listen on: " + c.bind);
  const tcp::endpoint ep(addr, c.port);
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + c.bind + ":" + std::to_string(c.port) + ": " + ec.message());
  c.port = a->local_endpoint().port();
  impl_->accept(*a, c);
  impl_->acceptors.push_back(std::move(a));
  return c.port;
}

void Lab::run(bool handle_signals) {
  std::unique_ptr<asio::signal_set> sig;
  if (handle_signals) {
    sig = std::make_unique<asio::signal_set>(impl_->io, SIGINT, SIGTERM);
    sig->async_wait([this](const asio::error_code& ec, int) {
      if (!ec) impl_->io.stop();
    });
  }
  impl_->io.run();
}

void Lab::stop() { impl_->io.stop(); }
std::uint64_t Lab::associations() const { return impl_->associations; }
std::uint64_t Lab::stored() const { return impl_->stored_count; }
bool Lab::associated_from(const std::string& address) const {
  std::lock_guard lk(impl_->received_mu);
  return impl_->peers.count(address) > 0;
}
bool Lab::received(const std::string& uid) const {
  std::lock_guard lk(impl_->received_mu);
  return impl_->received.count(uid) > 0;
}

}  // namespace dg::lab
