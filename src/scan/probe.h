// The probe interface between the scan engine and a protocol, in the spirit of zmap's probe modules: the engine
// owns sockets, TLS, timers, the per-host limit and the rate, and knows no protocol; a probe is a state machine
// that never touches a socket. It says what to do next (a Step) and is told what happened. Probes can therefore
// be tested and fuzzed without a network.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "findings/finding.h"
#include "scan/clock.h"
#include "tls/measurement.h"

namespace dg::scan {

using Bytes = std::vector<std::uint8_t>;
using Ms = std::chrono::milliseconds;

// Which client certificate a TLS connect presents, and what a handshake showed (given to
// Probe::on_tls_session before on_connected): defined with the TLS measurements.
using ClientIdentity = tls::ClientIdentity;
using TlsSession = tls::Session;

struct Step {
  enum class Kind : std::uint8_t {
    connect,  // close any open connection and open a new one (after a per-host slot and a rate token)
    send,     // write `out`, then wait for bytes
    receive,  // wait for more bytes
    finish,   // close; the probe is done
  };
  Kind kind = Kind::finish;
  bool tls = false;  // connect: wrap the connection in TLS (certificates are not verified)
  Bytes out;         // send
  Ms timeout{5000};  // connect (TCP and TLS handshake together) and receive
  std::string alpn = "dicom";  // connect with TLS: the one ALPN protocol offered ("dicom", "http/1.1"; "": none)
  ClientIdentity identity = ClientIdentity::configured;  // connect with TLS: the client certificate presented
  Ms delay{0};       // connect: wait this long first (a backoff before trying a server again)

  static Step connect(bool tls, Ms timeout, std::string alpn = "dicom") {
    return {Kind::connect, tls, {}, timeout, std::move(alpn), ClientIdentity::configured};
  }
  static Step connect_after(Ms delay, bool tls, Ms timeout, std::string alpn = "dicom") {
    Step s = connect(tls, timeout, std::move(alpn));
    s.delay = delay;
    return s;
  }
  static Step send(Bytes b, Ms timeout) { return {Kind::send, false, std::move(b), timeout, {}, {}}; }
  static Step receive(Ms timeout) { return {Kind::receive, false, {}, timeout, {}, {}}; }
  static Step finish() { return {}; }
};

enum class Failure : std::uint8_t {
  refused,       // connection refused (RST to SYN)
  unreachable,   // no route, host unreachable, network down
  timeout,       // connect, TLS handshake or receive took longer than the step's timeout
  closed,        // the peer closed the connection (FIN) while we waited for bytes
  reset,         // the peer reset the connection
  tls_failed,    // TCP connected but the TLS handshake failed
  error,         // any other socket error
};
const char* failure_name(Failure f);

// What a record needs besides the probe's result.
struct RecordOptions {
  std::string ca_file;  // trust anchors for TLS chain verification (default: the system store)
};

// The kind of service a probe found (the record's "protocol").
enum class Protocol : std::uint8_t { none, dimse, dimse_tls, http, https };

// What the scan session needs to know of a finished probe to plan what comes next (typed, so that it never
// re-reads a record's JSON): how the endpoint answered, the service found, an AE title it disclosed.
struct ProbeFacts {
  std::string answer;          // the summary's "answers" key: dicom, http, tls, closed, refused, timeout, ...
  Protocol protocol = Protocol::none;  // of the service found
  bool dicom = false;          // a DICOM service: DIMSE, DICOM-TLS, or a web server that serves DICOM
  std::string accepted_ae;     // the called AE title it accepts: "*" (any), a title, or empty (none known)
  std::string identity;        // implementation class UID "/" version name
  bool every_title_refused = false;  // the called AE title is checked and none tried was accepted
  std::uint16_t learned_port = 0;    // a web API named the AE title of the DICOM service on this port ...
  std::string learned_ae;            // ... this one
  std::string moved_instance;  // --move-probe: the SOP Instance UID we asked the server to move
  std::uint64_t handshakes = 0;  // TLS handshakes this probe made
  std::vector<ClockObservation> clock;  // the host's clock as this probe saw it (HTTP Date, gmt_unix_time)
};

class Probe {
 public:
  virtual ~Probe() = default;
  // The record of what was measured, made by this probe kind's serializer (an empty type: nothing to report).
  virtual Record record(const RecordOptions&) const { return {}; }
  virtual ProbeFacts facts() const { return {}; }
  virtual Step begin() = 0;
  // The connection asked for by the last connect step is open (and TLS is established when asked for);
  // tls_version/alpn are empty for plain TCP.
  virtual Step on_connected(const std::string& tls_version, const std::string& alpn) = 0;
  // Called just before on_connected after a TLS handshake, with what the handshake showed (and before
  // on_failure when it failed, with completed = false).
  virtual void on_tls_session(const TlsSession&) {}
  // Bytes that arrived (only the new ones; the probe keeps what it needs).
  virtual Step on_data(std::span<const std::uint8_t> bytes) = 0;
  virtual Step on_failure(Failure f, const std::string& detail) = 0;
};

}  // namespace dg::scan
