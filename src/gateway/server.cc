#include "gateway/server.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <csignal>
#include <deque>
#include <stdexcept>
#include <unordered_set>

#include "net/connection.h"

namespace dg::gateway {

namespace pdu = dicom::pdu;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string Endpoint::text() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return (host.empty() ? std::string("*") : h) + ":" + std::to_string(port);
}

Endpoint Endpoint::parse(const std::string& text, bool allow_port_only) {
  Endpoint e;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument("not [ADDRESS]:PORT: " + text);
    e.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    if (text.find(':') != colon) throw std::invalid_argument("an IPv6 address goes in brackets: [" + text + "]");
    e.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else if (allow_port_only) {
    port = text;
  } else {
    throw std::invalid_argument("not HOST:PORT: " + text);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535 || (!allow_port_only && std::stoul(port) == 0))
    throw std::invalid_argument("not a port: '" + port + "' in " + text);
  if (!allow_port_only && e.host.empty()) throw std::invalid_argument("no host in " + text);
  e.port = static_cast<std::uint16_t>(std::stoul(port));
  return e;
}

namespace {

// A route as it runs: the configuration with its TLS contexts and chain. Sessions keep the one they started
// with, so a reload never changes a live association.
struct Runtime {
  Route route;
  std::unique_ptr<asio::ssl::context> server_ctx, client_ctx;
  std::unique_ptr<Chain> chain;
  explicit Runtime(const Route& r) : route(r) {
    if (r.tls) server_ctx = net::make_context(r.tls_policy, net::Role::server);
    bool any_tls_out = r.upstream_tls;
    for (const auto& [ae, d] : r.policy.move_destinations) any_tls_out = any_tls_out || d.tls;
    if (any_tls_out) client_ctx = net::make_context(r.upstream_policy, net::Role::client);
    chain = std::make_unique<Chain>(r.policy);
  }
};

// The client certificate's identities: subject CN and SAN DNS names (the chain was verified by OpenSSL).
std::vector<std::string> identities(const tls::Session& s) {
  std::vector<std::string> out;
  if (s.chain.empty()) return out;
  const unsigned char* p = s.chain.front().data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(s.chain.front().size()));
  if (!x) return out;
  char cn[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) > 0) out.emplace_back(cn);
  if (auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type == GEN_DNS) {
        const auto* d = g->d.dNSName;
        out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(d)),
                         static_cast<std::size_t>(ASN1_STRING_length(d)));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  X509_free(x);
  return out;
}

std::string ssl_reason(const asio::error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
    std::string s = buf;
    // "error:0A000086:SSL routines::certificate verify failed" -> the reason
    if (auto pos = s.rfind(':'); pos != std::string::npos) s = s.substr(pos + 1);
    return s;
  }
  return ec.message();
}

}  // namespace

struct Server::Impl {
  asio::io_context io{1};
  Observer& obs;
  std::function<Config()> reload_fn;
  Limits limits;
  std::vector<std::shared_ptr<const Runtime>> runtimes;  // by route index
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::unordered_set<Session*> live;
  std::atomic<unsigned> live_count{0};
  unsigned busy = 0;  // sessions kept only to refuse them politely
  std::uint64_t next_id = 1;
  bool draining = false;
  std::unique_ptr<asio::steady_timer> drain_timer;
  std::unique_ptr<asio::signal_set> signals;

  Impl(Config cfg, Observer& o, std::function<Config()> r) : obs(o), reload_fn(std::move(r)), limits(cfg.limits) {
    for (const Route& route : cfg.routes) runtimes.push_back(std::make_shared<const Runtime>(route));
  }

  void accept(std::size_t i);
  void begin_drain(const std::string& why);
  void maybe_finish();
  void reload();
  void watch_signals();
};

// One association: the client's connection, the upstream's, the relay between them.
struct Session : std::enable_shared_from_this<Session>, RelayEvents {
  Server::Impl& srv;
  std::shared_ptr<const Runtime> rt;
  net::Connection conn[2];
  Relay relay;
  SessionInfo info;
  SessionEnd end;
  bool refusing;  // over --max-associations: answer the RQ with a transient rejection
  Decision busy_decision;
  bool reading[2] = {false, false}, writing[2] = {false, false};
  std::deque<Bytes> outq[2];
  bool closing = false, done = false;
  std::string end_reason;
  asio::steady_timer tick;
  Clock::time_point started = Clock::now(), last_activity = Clock::now(), pdu_started[2];
  tcp::resolver resolver;

  Session(Server::Impl& s, std::shared_ptr<const Runtime> r, tcp::socket sock, std::uint64_t id, bool busy)
      : srv(s),
        rt(std::move(r)),
        conn{net::Connection(std::move(sock)), net::Connection(s.io)},
        relay(*rt->chain, Peer{}, *this, s.limits.relay),
        refusing(busy),
        tick(s.io),
        resolver(s.io) {
    info.id = id;
    info.route = rt->route.name;
    info.listen = rt->route.listen.text();
    info.peer.address = conn[0].remote_address();
    info.peer.tls = rt->route.tls;
    if (busy) busy_decision = Decision::reject("max-associations", "the gateway is at --max-associations", 2, 3, 2);
  }

  static int ix(Side s) { return s == Side::client ? 0 : 1; }

  void start() {
    arm();
    if (!rt->route.tls) return begin();
    conn[0].async_handshake(*rt->server_ctx, net::Role::server, {}, {}, [self = shared_from_this()](const asio::error_code& ec) {
      if (ec) {
        self->srv.obs.tls_failed(self->info, ssl_reason(ec));
        self->end.how = "tls-failed";
        return self->finish();
      }
      const tls::Session ts = self->conn[0].session(true);
      self->info.tls_version = ts.version;
      self->info.tls_cipher = ts.cipher;
      self->info.peer.identities = identities(ts);
      self->begin();
    });
  }

  void begin() {
    relay.set_peer(info.peer);
    pump(Side::client);
  }

  void arm() {
    tick.expires_after(std::chrono::seconds(1));
    tick.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->done) return;
      self->check_timeouts();
      if (!self->done) self->arm();
    });
  }

  void check_timeouts() {
    const auto now = Clock::now();
    const Limits& l = srv.limits;
    const auto st = relay.state();
    std::string why;
    if (closing && now - last_activity > std::chrono::seconds(5)) return finish();
    if (st != Relay::State::data && st != Relay::State::released && st != Relay::State::closed &&
        now - started > l.setup_timeout)
      why = "association setup timeout";
    else if (now - last_activity > l.idle_timeout)
      why = "idle timeout";
    else
      for (Side s : {Side::client, Side::upstream})
        if (relay.mid_pdu(s) && now - pdu_started[ix(s)] > l.pdu_timeout) why = std::string("a PDU from the ") + side_name(s) + " took too long";
    if (why.empty()) return;
    end.how = "timeout";
    end_reason = why;
    if (relay.state() == Relay::State::closed || !conn[0].is_open()) return finish();
    apply(relay.abort(why));
  }

  // ---- RelayEvents ----
  void rejected(const pdu::Associate& rq, const Decision& d) override {
    end.how = refusing ? "busy" : "rejected";
    srv.obs.rejected(info, rq, d);
  }
  void upstream_answered(const pdu::Associate& rq, const pdu::Associate* ac, const pdu::AssociateRj* rj) override {
    if (rj) end.how = "rejected";
    srv.obs.answered(info, rq, ac, rj);
  }
  void command(const CommandInfo& c, const Decision& d) override {
    ++end.commands;
    if (!d.allowed) ++end.denied;
    srv.obs.command(info, relay.request(), c, d);
  }
  void instance(const Instance& i) override { srv.obs.instance(info, relay.request(), i); }
  void query(const CommandInfo& c, std::span<const std::uint8_t> id, const std::string& ts, bool truncated) override {
    srv.obs.query(info, relay.request(), c, id, ts, truncated);
  }
  void retrieve_done(const CommandInfo& c, std::uint16_t status, int completed, int failed, int warning) override {
    srv.obs.retrieve_done(info, relay.request(), c, status, completed, failed, warning);
  }
  void violation(Side side, const std::string& what) override {
    end.how = "violation";
    end_reason = what;
    srv.obs.violation(info, side, what);
  }

  // ---- bytes ----
  void pump(Side s) {
    const int i = ix(s);
    if (reading[i] || done || !conn[i].is_open()) return;
    // Backpressure: at most two PDUs waiting to go to the other side.
    if (outq[ix(s == Side::client ? Side::upstream : Side::client)].size() >= 2) return;
    std::span<std::uint8_t> into = relay.read_buffer(s);
    if (into.empty()) return;
    reading[i] = true;
    if (s == Side::client) conn[0].quick_ack();
    conn[i].async_read_some(asio::buffer(into.data(), into.size()),
                            [self = shared_from_this(), s](const asio::error_code& ec, std::size_t n) {
                              self->reading[ix(s)] = false;
                              if (self->done) return;
                              if (ec) {
                                if (self->end.how.empty()) self->end.how = "closed";
                                return self->apply(self->relay.closed(s));
                              }
                              self->last_activity = Clock::now();
                              (s == Side::client ? self->end.bytes_from_client : self->end.bytes_from_upstream) += n;
                              const bool was_mid = self->relay.mid_pdu(s);
                              Relay::Output out = self->refusing && s == Side::client ? self->refuse_read(n)
                                                                                      : self->relay.received(s, n);
                              if (!was_mid && self->relay.mid_pdu(s)) self->pdu_started[ix(s)] = Clock::now();
                              self->apply(std::move(out));
                              self->pump(s);
                            });
  }

  // Over capacity: the RQ is read and answered A-ASSOCIATE-RJ (transient, local limit exceeded).
  Relay::Output refuse_read(std::size_t n) {
    Relay::Output out = relay.received(Side::client, n);
    if (out.connect) {
      out.connect = false;
      rejected(relay.request(), busy_decision);
      out.to_client.push_back(pdu::encode_rj(busy_decision.result, busy_decision.source, busy_decision.reason_code));
      out.close = true;
      relay.abort("busy");  // the relay's state is closed; its A-ABORT is not sent
    }
    return out;
  }

  void apply(Relay::Output out) {
    for (Bytes& b : out.to_client) send(Side::client, std::move(b));
    if (conn[1].is_open() || out.connect)
      for (Bytes& b : out.to_upstream) send(Side::upstream, std::move(b));
    if (out.connect) connect_upstream();
    if (out.close) {
      closing = true;
      if (end.how.empty()) end.how = "closed";
      return flush_or_finish();
    }
    // A state change may open a side for reading (the client once the AC is relayed).
    pump(Side::client);
    pump(Side::upstream);
  }

  void flush_or_finish() {
    if (done) return;
    if (!writing[0] && !writing[1] && (outq[0].empty() || !conn[0].is_open()) && (outq[1].empty() || !conn[1].is_open()))
      finish();
  }

  void send(Side s, Bytes b) {
    const int i = ix(s);
    outq[i].push_back(std::move(b));
    write_next(s);
  }

  void write_next(Side s) {
    const int i = ix(s);
    if (writing[i] || outq[i].empty() || !conn[i].is_open()) return;
    // The upstream queue fills before it is connected; it is written once it is.
    if (s == Side::upstream && relay.state() == Relay::State::connecting) return;
    writing[i] = true;
    conn[i].async_write(asio::buffer(outq[i].front()), [self = shared_from_this(), s](const asio::error_code& ec, std::size_t) {
      const int k = ix(s);
      self->writing[k] = false;
      if (self->done) return;
      if (ec) {
        self->outq[k].clear();
        if (self->closing) return self->flush_or_finish();
        if (self->end.how.empty()) self->end.how = "closed";
        return self->apply(self->relay.closed(s));
      }
      self->relay.recycle(std::move(self->outq[k].front()));
      self->outq[k].pop_front();
      self->last_activity = Clock::now();
      if (self->closing && self->outq[k].empty()) return self->flush_or_finish();
      self->write_next(s);
      self->pump(s == Side::client ? Side::upstream : Side::client);
    });
  }

  void connect_upstream() {
    Endpoint to = rt->route.upstream;
    bool tls = rt->route.upstream_tls;
    if (rt->route.reverse) {
      auto it = rt->route.policy.move_destinations.find(relay.request().called());
      if (it == rt->route.policy.move_destinations.end()) return apply(relay.upstream_failed("no destination"));
      to = {it->second.host, it->second.port};
      tls = it->second.tls;
    }
    info.upstream = to.text();
    resolver.async_resolve(to.host, std::to_string(to.port),
                           [self = shared_from_this(), to, tls](const asio::error_code& ec, tcp::resolver::results_type res) {
                             if (self->done) return;
                             if (ec || res.empty()) return self->apply(self->relay.upstream_failed(ec.message()));
                             self->conn[1].async_connect(*res.begin(), [self, to, tls](const asio::error_code& ec2) {
                               if (self->done) return;
                               if (ec2) return self->apply(self->relay.upstream_failed(ec2.message()));
                               if (!tls) return self->upstream_ready();
                               self->conn[1].async_handshake(*self->rt->client_ctx, net::Role::client, to.host, {},
                                                             [self](const asio::error_code& ec3) {
                                                               if (self->done) return;
                                                               if (ec3) {
                                                                 SessionInfo up = self->info;
                                                                 up.listen = "upstream";
                                                                 self->srv.obs.tls_failed(up, "upstream: " + ssl_reason(ec3));
                                                                 return self->apply(self->relay.upstream_failed(ssl_reason(ec3)));
                                                               }
                                                               self->upstream_ready();
                                                             });
                             });
                           });
  }

  void upstream_ready() {
    apply(relay.upstream_connected());
    write_next(Side::upstream);
    pump(Side::upstream);
    pump(Side::client);
  }

  void finish() {
    if (done) return;
    done = true;
    tick.cancel();
    resolver.cancel();
    conn[0].close();
    conn[1].close();
    if (end.how.empty() || end.how == "closed") end.how = relay.ending().empty() ? "closed" : relay.ending();
    end.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    srv.obs.ended(info, relay.request().original.empty() ? nullptr : &relay.request(), end);
    srv.live.erase(this);
    if (refusing) --srv.busy;
    else --srv.live_count;
    srv.maybe_finish();
  }

  void drain_abort() {
    if (done) return;
    end.how = "drained";
    if (relay.state() == Relay::State::data || relay.state() == Relay::State::released) apply(relay.abort("drain"));
    else finish();
  }
};

void Server::Impl::accept(std::size_t i) {
  acceptors[i]->async_accept([this, i](const asio::error_code& ec, tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted || draining) return;
      // EMFILE and the like: try again in a moment, not in a busy loop.
      auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
      return t->async_wait([this, i, t](const asio::error_code& e) {
        if (!e && !draining) accept(i);
      });
    }
    if (draining) return;
    asio::error_code ignore;
    s.set_option(tcp::no_delay(true), ignore);
    const bool over = live_count >= limits.max_associations;
    if (over && busy >= 16 + limits.max_associations / 4) {
      s.close(ignore);  // far over capacity: not even an answer
    } else {
      auto session = std::make_shared<Session>(*this, runtimes[i], std::move(s), next_id++, over);
      if (over) ++busy;
      else ++live_count;
      live.insert(session.get());
      session->start();
    }
    accept(i);
  });
}

void Server::Impl::begin_drain(const std::string& why) {
  if (draining) return;
  draining = true;
  obs.stopping(why);
  asio::error_code ignore;
  for (auto& a : acceptors) a->close(ignore);
  if (signals) signals->cancel(ignore);
  drain_timer = std::make_unique<asio::steady_timer>(io);
  drain_timer->expires_after(limits.drain_timeout);
  drain_timer->async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    std::vector<Session*> all(live.begin(), live.end());
    for (Session* s : all) s->drain_abort();
    // Anything that still does not end within a few seconds is closed by its own tick.
  });
  maybe_finish();
}

void Server::Impl::maybe_finish() {
  if (draining && live.empty()) {
    if (drain_timer) drain_timer->cancel();
    io.stop();
  }
}

void Server::Impl::reload() {
  if (!reload_fn) return obs.reloaded(false, "no configuration to reload");
  try {
    Config c = reload_fn();
    std::vector<std::shared_ptr<const Runtime>> next = runtimes;
    for (const Route& r : c.routes) {
      bool matched = false;
      for (std::size_t i = 0; i < runtimes.size(); ++i)
        if (runtimes[i]->route.name == r.name) {
          if (r.listen.port != runtimes[i]->route.listen.port || r.listen.host != runtimes[i]->route.listen.host)
            throw std::runtime_error("route " + r.name + ": a reload cannot move its listener (restart for that)");
          next[i] = std::make_shared<const Runtime>(r);
          matched = true;
        }
      if (!matched) throw std::runtime_error("route " + r.name + " is new: a reload cannot add listeners");
    }
    runtimes = std::move(next);
    limits.setup_timeout = c.limits.setup_timeout;
    limits.idle_timeout = c.limits.idle_timeout;
    limits.pdu_timeout = c.limits.pdu_timeout;
    limits.max_associations = c.limits.max_associations;
    obs.reloaded(true, "");
  } catch (const std::exception& e) {
    obs.reloaded(false, e.what());
  }
}

void Server::Impl::watch_signals() {
  signals->async_wait([this](const asio::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload();
      return watch_signals();
    }
    begin_drain(sig == SIGTERM ? "SIGTERM" : "SIGINT");
  });
}

Server::Server(Config cfg, Observer& obs, std::function<Config()> reload)
    : impl_(std::make_unique<Impl>(std::move(cfg), obs, std::move(reload))) {}
Server::~Server() = default;

std::vector<std::uint16_t> Server::listen() {
  std::vector<std::uint16_t> ports;
  std::vector<std::pair<std::string, std::uint16_t>> shown;
  for (const auto& rt : impl_->runtimes) {
    const Endpoint& l = rt->route.listen;
    asio::error_code ec;
    tcp::endpoint ep;
    if (l.host.empty()) {
      ep = tcp::endpoint(tcp::v6(), l.port);
    } else {
      const auto addr = asio::ip::make_address(l.host, ec);
      if (ec) throw std::runtime_error("route " + rt->route.name + ": not an address to listen on: " + l.host);
      ep = tcp::endpoint(addr, l.port);
    }
    auto a = std::make_unique<tcp::acceptor>(impl_->io);
    a->open(ep.protocol(), ec);
    if (!ec && l.host.empty()) a->set_option(asio::ip::v6_only(false), ec);
    if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a->bind(ep, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("route " + rt->route.name + ": cannot listen on " + l.text() + ": " + ec.message());
    ports.push_back(a->local_endpoint().port());
    shown.emplace_back(rt->route.name, ports.back());
    impl_->acceptors.push_back(std::move(a));
  }
  for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) impl_->accept(i);
  impl_->obs.started(shown);
  return ports;
}

void Server::run(bool handle_signals) {
  if (handle_signals) {
    impl_->signals = std::make_unique<asio::signal_set>(impl_->io, SIGINT, SIGTERM, SIGHUP);
    impl_->watch_signals();
  }
  impl_->io.run();
}

void Server::stop() {
  asio::post(impl_->io, [this] { impl_->begin_drain("stop"); });
}

unsigned Server::live() const { return impl_->live_count; }

}  // namespace dg::gateway
