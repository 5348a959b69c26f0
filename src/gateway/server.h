// The gateway's I/O: listeners (plain or TLS), one upstream connection per association (plain or TLS), the
// relay (gateway/relay) between them, limits and timeouts, reloads and draining. Event-driven on one Asio
// io_context; everything the gateway does is told to an Observer (the connection log, the audit trail).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/policy.h"
#include "gateway/relay.h"
#include "net/tls_context.h"

namespace dg::gateway {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string text() const;
  // "HOST:PORT", "[v6]:PORT"; with allow_port_only, "PORT" alone (host left empty). Throws std::invalid_argument.
  static Endpoint parse(const std::string& text, bool allow_port_only = false);
};

struct Route {
  std::string name = "default";
  Endpoint listen;                  // host "" = every address
  bool tls = false;                 // TLS on the listener
  net::TlsPolicy tls_policy;        // the listener's (server)
  Endpoint upstream;                // unused by a reverse route
  bool upstream_tls = false;
  net::TlsPolicy upstream_policy;   // the gateway as a TLS client: to the upstream, and to TLS move destinations
  Policy policy;
  bool reverse = false;             // the C-MOVE sub-association route: the upstream is the called AE's --move-dest
};

struct Limits {
  unsigned max_associations = 200;
  std::chrono::seconds setup_timeout{30};  // TCP accepted .. association accepted (TLS handshake, RQ, upstream AC)
  std::chrono::seconds idle_timeout{300};  // no bytes from either side
  std::chrono::seconds pdu_timeout{30};    // a PDU started must be finished (slow senders: slowloris)
  std::chrono::seconds drain_timeout{30};  // SIGTERM: running associations get this long, then an A-ABORT
  RelayLimits relay;
};

struct Config {
  std::vector<Route> routes;
  Limits limits;
};

// Who, for every event.
struct SessionInfo {
  std::uint64_t id = 0;
  std::string route, listen;
  Peer peer;
  std::string tls_version, tls_cipher;  // of the client's connection, once its handshake is done
  std::string upstream;                 // HOST:PORT the association was relayed to (once connected)
};

struct SessionEnd {
  std::string how;  // "released", "aborted", "rejected", "violation", "timeout", "closed", "tls-failed", "drained", "busy"
  std::uint64_t bytes_from_client = 0, bytes_from_upstream = 0;
  std::uint64_t commands = 0, denied = 0;
  double seconds = 0;
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void started(const std::vector<std::pair<std::string, std::uint16_t>>& /*listening*/) {}
  virtual void stopping(const std::string& /*why*/) {}
  virtual void reloaded(bool /*ok*/, const std::string& /*error*/) {}
  virtual void tls_failed(const SessionInfo&, const std::string& /*why*/) {}
  virtual void rejected(const SessionInfo&, const dicom::pdu::Associate&, const Decision&) {}
  virtual void answered(const SessionInfo&, const dicom::pdu::Associate& /*rq*/, const dicom::pdu::Associate* /*ac*/,
                        const dicom::pdu::AssociateRj* /*rj*/) {}
  virtual void command(const SessionInfo&, const dicom::pdu::Associate& /*rq*/, const CommandInfo&, const Decision&) {}
  virtual void instance(const SessionInfo&, const dicom::pdu::Associate& /*rq*/, const Instance&) {}
  virtual void query(const SessionInfo&, const dicom::pdu::Associate& /*rq*/, const CommandInfo&,
                     std::span<const std::uint8_t> /*identifier*/, const std::string& /*ts*/, bool /*truncated*/) {}
  virtual void retrieve_done(const SessionInfo&, const dicom::pdu::Associate& /*rq*/, const CommandInfo&,
                             std::uint16_t /*status*/, int /*completed*/, int /*failed*/, int /*warning*/) {}
  virtual void violation(const SessionInfo&, Side /*side*/, const std::string& /*what*/) {}
  virtual void ended(const SessionInfo&, const dicom::pdu::Associate* /*rq*/, const SessionEnd&) {}
};

struct Session;

class Server {
 public:
  // reload: called on SIGHUP; returns the new configuration (routes matched to listeners by name) or throws with
  // a message (the old configuration stays).
  Server(Config cfg, Observer& obs, std::function<Config()> reload = {});
  ~Server();
  // Binds every listener (throws std::runtime_error naming the address); returns the ports, in route order.
  std::vector<std::uint16_t> listen();
  // Runs until SIGTERM/SIGINT (then drains) or stop().
  void run(bool handle_signals = true);
  void stop();  // thread-safe: drain now
  unsigned live() const;

 private:
  friend struct Session;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::gateway
