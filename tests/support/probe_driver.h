// The engine's part, without a network: runs a Probe against a scripted peer, one step at a time, as the scan
// engine would (connect, send, receive, finish). Shared by the unit tests and the fuzz targets, so that both
// drive probes the same way the engine does: a TLS session is reported before on_connected (and before the
// failure of a handshake that did not complete), and a failure ends the connection.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "scan/probe.h"

namespace dgtest {

using dg::scan::Failure;
using dg::scan::Step;
using dg::scan::TlsSession;

// What the peer does at one step.
struct Answer {
  std::vector<std::uint8_t> bytes;       // send/receive: what arrives (ignored after a failure)
  std::optional<Failure> failure;        // the connection fails instead
  std::optional<TlsSession> session;     // connect with TLS: what the handshake showed (with a failure: a
                                         // handshake that did not complete, completed = false)
  std::string detail = "scripted";       // the failure's message

  static Answer data(std::vector<std::uint8_t> b) { return {std::move(b), std::nullopt, std::nullopt}; }
  static Answer fail(Failure f, std::string why = "scripted") { return {{}, f, std::nullopt, std::move(why)}; }
  static Answer connected() { return {}; }
  static Answer tls(TlsSession s) { return {{}, std::nullopt, std::move(s)}; }
};

struct Peer {
  std::function<Answer(const Step& connect)> connect = [](const Step&) { return Answer::connected(); };
  std::function<Answer(const std::vector<std::uint8_t>& sent)> send;  // the answer to what the probe sent
  std::function<Answer()> receive = [] { return Answer::fail(Failure::closed, "end of the scripted answer"); };
};

struct Driven {
  int steps = 0;
  bool finished = false;
  int tcp_connects = 0, tls_connects = 0;
  std::vector<std::vector<std::uint8_t>> sent;  // everything the probe sent, in order
};

inline Driven drive(dg::scan::Probe& p, const Peer& peer, int max_steps = 100000) {
  Driven d;
  Step s = p.begin();
  for (; d.steps < max_steps; ++d.steps) {
    if (s.kind == Step::Kind::finish) {
      d.finished = true;
      break;
    }
    Answer a;
    if (s.kind == Step::Kind::connect) {
      ++(s.tls ? d.tls_connects : d.tcp_connects);
      a = peer.connect(s);
      if (a.session) p.on_tls_session(*a.session);
      if (a.failure) s = p.on_failure(*a.failure, a.detail);
      else if (s.tls && a.session) s = p.on_connected(a.session->version, a.session->alpn);
      else s = p.on_connected("", "");
      continue;
    }
    if (s.kind == Step::Kind::send) {
      d.sent.push_back(s.out);
      a = peer.send ? peer.send(s.out) : peer.receive();
    } else {
      a = peer.receive();
    }
    s = a.failure ? p.on_failure(*a.failure, a.detail) : p.on_data(a.bytes);
  }
  return d;
}

}  // namespace dgtest
