// The audit trail: where messages go (syslog over TLS, TCP or UDP, or a file), the durable spool that keeps them
// while a collector is away, and the threads that deliver them. submit() never waits on the network; with a spool
// it returns once the message is on disk (fdatasync'ed): that is what "acknowledged" means (docs/audit.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "audit/message.h"

namespace dg::audit {

struct Destination {
  enum class Kind { tls, tcp, udp, file } kind = Kind::tcp;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  std::string path;  // file
  std::string url;   // as given
};
// syslog+tls://HOST:PORT, syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT (HOST a name, an IPv4 address or
// [IPv6]), file:PATH. Throws std::invalid_argument with a message naming the URL and what is wrong.
Destination parse_destination(const std::string& url);

struct TrailOptions {
  SyslogOptions syslog;   // submit() frames each message (RFC 5424) once; the spool keeps the framed text
  std::string spool_dir;  // "": no spool, a bounded in-memory queue per destination
  std::size_t queue_limit = 10000;  // in-memory queue (no spool): messages beyond this are dropped and counted
  // syslog+tls: the collector's chain is verified against ca_file and its name against the URL's host (or
  // server_name); our certificate and key are presented. TLS 1.2 at least.
  std::string ca_file, cert_file, key_file, server_name;
  std::chrono::milliseconds reconnect_min{200}, reconnect_max{5000};
  std::chrono::milliseconds connect_timeout{3000};
  // TLS 1.3: how long to wait after the handshake for the collector to accept our certificate (its session
  // tickets) or refuse it (an alert) before writing; a collector that sends no tickets costs this once per connect.
  std::chrono::milliseconds tls13_confirm{1000};
  std::chrono::milliseconds close_timeout{3000};  // what the destructor gives flush()
  std::size_t commit_every = 32;  // spool: a cursor is made durable at least every N messages sent (and when idle)
  std::size_t segment_bytes = 8u << 20;  // spool: a new segment file after this many bytes
};

struct DestinationStats {
  std::string url;
  std::uint64_t sent = 0;     // messages handed to the transport (written to the socket or file)
  std::uint64_t pending = 0;  // waiting for this destination
  std::uint64_t dropped = 0;  // queue full (no spool) or a message the transport cannot carry (UDP, too large)
  bool connected = false;
  std::string last_error;
};
struct TrailStats {
  std::uint64_t submitted = 0, spooled = 0, dropped = 0, sent = 0;
  std::string last_error;
  std::vector<DestinationStats> destinations;
};

class Trail {
 public:
  // Throws std::invalid_argument (a bad URL) or std::runtime_error (the spool cannot be opened, TLS files).
  Trail(std::vector<std::string> urls, TrailOptions options = {});
  ~Trail();  // flush(now + close_timeout), then stops
  Trail(const Trail&) = delete;
  Trail& operator=(const Trail&) = delete;

  // Thread-safe; never waits on the network. With a spool: true once the message is durably written there
  // (false, counted as dropped, when the spool cannot be written). Without: true when queued for every destination.
  bool submit(std::string message);
  // Waits until every destination has sent everything submitted so far (and, with a spool, made its cursor
  // durable), or the deadline passes. true when all was sent.
  bool flush(std::chrono::steady_clock::time_point deadline);
  TrailStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::audit
