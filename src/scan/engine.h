// The asynchronous scan engine: one thread, Asio, bounded in-flight work, per-step timeouts (given by the
// probe), a global connection rate and a per-host limit on concurrent connections. It drives Probes and knows
// no protocol.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "scan/probe.h"
#include "scan/targets.h"

namespace dg::scan {

struct EngineOptions {
  std::size_t max_inflight = 1024;  // probes running at once (capped by the open-file limit)
  int per_host = 2;                 // concurrent connections to one address
  double rate = 0;                  // new connections per second across the scan; 0 = unlimited
  std::string tls_cert, tls_key;    // optional client certificate for TLS connections
  bool untrusted_identity = false;  // make a throwaway self-signed client certificate (ClientIdentity::untrusted)
};

struct EngineStats {
  std::uint64_t probes = 0, connections = 0, tls_handshakes = 0, bytes_sent = 0, bytes_received = 0;
  std::size_t peak_inflight = 0;
};

class Engine {
 public:
  using MakeProbe = std::function<std::unique_ptr<Probe>(const Endpoint&)>;
  using Done = std::function<void(const Endpoint&, std::unique_ptr<Probe>)>;

  explicit Engine(EngineOptions opt);
  ~Engine();
  // Runs every endpoint of the cursor through a probe made by `make`; `done` is called (on this thread) as each
  // probe finishes. Returns when all are done. Throws std::runtime_error when TLS cannot be set up.
  EngineStats run(TargetSet::Cursor& cursor, const MakeProbe& make, const Done& done);
  // The in-flight limit actually used (max_inflight capped by RLIMIT_NOFILE, which is raised to its hard limit).
  std::size_t effective_inflight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::scan
