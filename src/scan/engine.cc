#include "scan/engine.h"

#include <sys/resource.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <deque>
#include <map>
#include <stdexcept>

#include "net/connection.h"
#include "net/tls_context.h"

namespace dg::scan {

const char* failure_name(Failure f) {
  switch (f) {
    case Failure::refused: return "refused";
    case Failure::unreachable: return "unreachable";
    case Failure::timeout: return "timeout";
    case Failure::closed: return "closed";
    case Failure::reset: return "reset";
    case Failure::tls_failed: return "tls-failed";
    case Failure::error: return "error";
  }
  return "error";
}

namespace {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

asio::ip::address to_asio(const Addr& a) {
  if (a.v4()) return asio::ip::address_v4({a.b[12], a.b[13], a.b[14], a.b[15]});
  asio::ip::address_v6::bytes_type b;
  std::copy(std::begin(a.b), std::end(a.b), b.begin());
  return asio::ip::address_v6(b);
}

Failure classify(const asio::error_code& ec) {
  if (ec == asio::error::connection_refused) return Failure::refused;
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable ||
      ec == asio::error::network_down)
    return Failure::unreachable;
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return Failure::closed;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted)
    return Failure::reset;
  return Failure::error;
}

std::size_t open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : static_cast<std::size_t>(rl.rlim_cur);
}

}  // namespace

struct Engine::Impl {
  EngineOptions opt;
  asio::io_context io{1};
  EngineStats stats;
  std::size_t inflight_limit = 0;

  struct Task;
  struct Host {
    int active = 0;
    std::deque<std::shared_ptr<Task>> waiting;
  };
  std::map<Addr, Host> hosts;
  Clock::time_point next_connect{};  // the rate limiter's next free slot
  std::size_t inflight = 0;
  TargetSet::Cursor* cursor = nullptr;
  const MakeProbe* make = nullptr;
  const Done* done = nullptr;
  bool exhausted = false;

  struct Task : std::enable_shared_from_this<Task> {
    Impl& e;
    Endpoint ep;
    std::unique_ptr<Probe> probe;
    net::Connection conn;
    asio::steady_timer timer;
    std::uint64_t op = 0;  // increments per operation; a timer firing for an older one is ignored
    bool timed_out = false;
    bool holds_slot = false;
    bool want_tls = false;
    ClientIdentity identity = ClientIdentity::configured;
    std::string alpn;
    Ms step_timeout{5000};
    std::array<std::uint8_t, 4096> buf;  // read into before use: not zeroed for each task
    Bytes out;

    Task(Impl& engine, Endpoint endpoint, std::unique_ptr<Probe> p)
        : e(engine), ep(std::move(endpoint)), probe(std::move(p)), conn(engine.io), timer(engine.io) {}

    void arm(Ms t) {
      const std::uint64_t my = ++op;
      timed_out = false;
      timer.expires_after(t);
      timer.async_wait([self = shared_from_this(), my](const asio::error_code& ec) {
        if (ec || my != self->op) return;
        self->timed_out = true;
        self->conn.abort();
      });
    }
    void disarm() {
      ++op;
      timer.cancel();
    }

    void close() {
      conn.close();
      if (holds_slot) {
        holds_slot = false;
        e.release_slot(ep.addr);
      }
    }

    void apply(Step s) {
      switch (s.kind) {
        case Step::Kind::connect:
          close();
          want_tls = s.tls;
          alpn = s.alpn;
          identity = s.identity;
          step_timeout = s.timeout;
          if (s.delay.count() > 0) {  // a backoff: wait without holding a host slot
            timer.expires_after(s.delay);
            ++op;
            timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
              if (!ec) self->e.acquire_slot(self);
            });
            return;
          }
          e.acquire_slot(shared_from_this());
          return;
        case Step::Kind::send:
          step_timeout = s.timeout;
          out = std::move(s.out);
          write();
          return;
        case Step::Kind::receive:
          step_timeout = s.timeout;
          if (!conn.is_tls()) conn.quick_ack();  // see read_armed
          read();
          return;
        case Step::Kind::finish:
          disarm();
          close();
          e.finished(shared_from_this());
          return;
      }
    }

    // Called by the engine once a host slot and a rate token are ours.
    void connect() {
      holds_slot = true;
      ++e.stats.connections;
      arm(step_timeout);
      conn.async_connect(tcp::endpoint(to_asio(ep.addr), ep.port),
                         [self = shared_from_this()](const asio::error_code& ec) { self->connected(ec); });
    }
    void connected(const asio::error_code& ec) {
      if (ec) return fail(ec, false);
      if (!want_tls) {
        disarm();
        return apply(probe->on_connected({}, {}));
      }
      ++e.stats.tls_handshakes;
      conn.quick_ack();  // the server's first flight may come in several small writes
      conn.async_handshake(e.context(identity), net::Role::client, ep.host, alpn,
                           [self = shared_from_this()](const asio::error_code& hec) { self->handshaken(hec); });
    }
    void handshaken(const asio::error_code& ec) {
      if (ec) {
        if (timed_out) return fail(ec, false);
        disarm();
        probe->on_tls_session(conn.session(false));
        close();
        return apply(probe->on_failure(Failure::tls_failed, ec.message()));
      }
      disarm();
      const TlsSession s = conn.session();
      probe->on_tls_session(s);
      apply(probe->on_connected(s.version, s.alpn));
    }
    void write() {
      e.stats.bytes_sent += out.size();
      arm(step_timeout);
      auto cb = [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
        if (ec) return self->fail(ec, true);
        self->read_armed();
      };
      conn.async_write(asio::buffer(out), cb);
    }
    void read() {
      arm(step_timeout);
      read_armed();
    }
    // TCP_QUICKACK: a server that leaves Nagle's algorithm on (DCMTK, s_server) holds the second part of an
    // answer written in two until its first part is acknowledged, and Linux delays our ACK by up to 40 ms.
    // - Plain TCP: set when the probe asks for more after a read (Step::receive: a partial PDU, or more PDUs to
    //   come), which also sends the pending ACK at once. An answer that arrives whole needs none, so a discovery
    //   association makes no such call (two system calls fewer per service).
    // - TLS: before and after every read, since the record layer reads several segments for one read_some that
    //   the probe never sees as partial.
    void read_armed() {
      if (conn.is_tls()) conn.quick_ack();
      auto cb = [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
        if (ec) return self->fail(ec, true);
        if (self->conn.is_tls()) self->conn.quick_ack();
        self->disarm();
        self->e.stats.bytes_received += n;
        self->apply(self->probe->on_data(std::span<const std::uint8_t>(self->buf.data(), n)));
      };
      conn.async_read_some(asio::buffer(buf), cb);
    }
    void fail(const asio::error_code& ec, bool /*connected*/) {
      const bool was_timeout = timed_out;
      disarm();
      close();
      if (was_timeout) return apply(probe->on_failure(Failure::timeout, "no answer within the step's timeout"));
      apply(probe->on_failure(classify(ec), ec.message()));
    }
  };

  // The scan's client contexts (net::TlsPolicy::permissive: everything, nothing verified): with the configured
  // client certificate (or none), without any, and with a throwaway untrusted one.
  std::unique_ptr<asio::ssl::context> ctx_configured, ctx_none, ctx_untrusted;

  // Made when first needed (a plain discovery never needs one, and making one was a tenth of a short scan's
  // start), except the one with a configured client certificate: a bad certificate or key fails the scan before
  // anything is sent.
  asio::ssl::context& context(ClientIdentity id) {
    if (id == ClientIdentity::configured || (id == ClientIdentity::none && opt.tls_cert.empty())) {
      if (!ctx_configured) ctx_configured = net::make_context(net::TlsPolicy::permissive(), net::Role::client);
      return *ctx_configured;
    }
    if (id == ClientIdentity::untrusted && opt.untrusted_identity) {
      if (!ctx_untrusted) {
        net::TlsPolicy untrusted = net::TlsPolicy::permissive();
        untrusted.self_signed_cn = "dicomguard untrusted test client";
        untrusted.self_signed_ec = true;
        ctx_untrusted = net::make_context(untrusted, net::Role::client);
      }
      return *ctx_untrusted;
    }
    if (!ctx_none) ctx_none = net::make_context(net::TlsPolicy::permissive(), net::Role::client);
    return *ctx_none;
  }

  explicit Impl(EngineOptions o) : opt(std::move(o)) {
    if (!opt.tls_cert.empty() || !opt.tls_key.empty()) {
      net::TlsPolicy configured = net::TlsPolicy::permissive();
      configured.cert_file = opt.tls_cert;
      configured.key_file = opt.tls_key;
      ctx_configured = net::make_context(configured, net::Role::client);
    }
    const std::size_t files = open_file_limit();
    inflight_limit = std::max<std::size_t>(1, std::min(opt.max_inflight, files > 64 ? files - 64 : 1));
  }

  void acquire_slot(const std::shared_ptr<Task>& t) {
    Host& h = hosts[t->ep.addr];
    if (h.active >= opt.per_host) {
      h.waiting.push_back(t);
      return;
    }
    ++h.active;
    pace(t);
  }
  void release_slot(const Addr& a) {
    auto it = hosts.find(a);
    if (it == hosts.end()) return;
    Host& h = it->second;
    --h.active;
    if (!h.waiting.empty()) {
      auto next = std::move(h.waiting.front());
      h.waiting.pop_front();
      ++h.active;
      // Not from inside the closing task's call stack.
      asio::post(io, [this, next] { pace(next); });
    } else if (h.active == 0) {
      hosts.erase(it);
    }
  }
  // The global rate: connections are started at most `rate` per second.
  void pace(const std::shared_ptr<Task>& t) {
    if (opt.rate <= 0) return t->connect();
    const auto now = Clock::now();
    const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / opt.rate));
    if (next_connect <= now) {
      next_connect = now + interval;
      return t->connect();
    }
    const auto at = next_connect;
    next_connect += interval;
    t->timer.expires_at(at);
    ++t->op;
    t->timer.async_wait([t](const asio::error_code& ec) {
      if (!ec) t->connect();
    });
  }

  void finished(const std::shared_ptr<Task>& t) {
    --inflight;
    (*done)(t->ep, std::move(t->probe));
    fill();
  }

  void fill() {
    while (!exhausted && inflight < inflight_limit) {
      auto ep = cursor->next();
      if (!ep) {
        exhausted = true;
        return;
      }
      auto probe = (*make)(*ep);
      auto t = std::make_shared<Task>(*this, *ep, std::move(probe));
      ++inflight;
      ++stats.probes;
      stats.peak_inflight = std::max(stats.peak_inflight, inflight);
      asio::post(io, [t] { t->apply(t->probe->begin()); });
    }
  }
};

Engine::Engine(EngineOptions opt) : impl_(std::make_unique<Impl>(std::move(opt))) {}
Engine::~Engine() = default;

std::size_t Engine::effective_inflight() const { return impl_->inflight_limit; }

EngineStats Engine::run(TargetSet::Cursor& cursor, const MakeProbe& make, const Done& done) {
  impl_->cursor = &cursor;
  impl_->make = &make;
  impl_->done = &done;
  impl_->exhausted = false;
  impl_->fill();
  impl_->io.run();
  impl_->io.restart();
  return impl_->stats;
}

}  // namespace dg::scan
