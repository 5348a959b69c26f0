#include "scan/ntp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>

#include "util/random_seed.h"

namespace dg::scan::ntp {

namespace {

using Steady = std::chrono::steady_clock;

struct Query {
  Result r;
  int fd = -1;
  std::uint64_t sent_ts = 0;       // our transmit timestamp
  WallClock::time_point sent{};    // when the client request went out
  std::uint16_t sequence = 0;
  bool mode3_done = false, mode6_done = false;
  Steady::time_point deadline{};
  std::vector<std::uint16_t> offsets;  // of mode 6 fragments seen (duplicates are not counted twice)
};

int open_connected(const Addr& a, std::uint16_t port, std::string& error) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (a.v4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    std::memcpy(&s->sin_addr, a.b + 12, 4);
    len = sizeof *s;
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    std::memcpy(&s->sin6_addr, a.b, 16);
    len = sizeof *s;
  }
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return error = std::strerror(errno), -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

void finish(Query& q, const char* answer, std::string detail = {}) {
  if (q.r.answer.empty() || q.r.answer == "no-answer") q.r.answer = answer;
  if (!detail.empty() && q.r.detail.empty()) q.r.detail = std::move(detail);
  q.mode3_done = q.mode6_done = true;
}

// One datagram that arrived for q.
void on_datagram(Query& q, std::span<const std::uint8_t> p, WallClock::time_point at) {
  if (p.empty()) return;
  const int mode = p[0] & 7;
  std::string error;
  if (mode == 6 && !q.mode6_done) {
    auto f = parse_mode6(p, error);
    if (!f || !f->response || f->sequence != q.sequence) return;  // not an answer to our request: ignored
    if (f->error) {  // an error answer (not authorized, unknown): nothing disclosed, no amplification
      q.mode6_done = true;
      return;
    }
    q.r.mode6_answered = true;
    q.r.mode6_reply_bytes += p.size();
    ++q.r.mode6_fragments;
    if (std::find(q.offsets.begin(), q.offsets.end(), f->offset) == q.offsets.end()) {
      q.offsets.push_back(f->offset);
      for (auto& v : parse_variables(f->data))
        if (q.r.variables.size() < kMaxVariables) q.r.variables.push_back(std::move(v));
    }
    if (!f->more || q.r.mode6_fragments >= kMaxMode6Fragments) q.mode6_done = true;
    return;
  }
  if (q.mode3_done) return;
  auto reply = parse_reply(p, q.sent_ts, error);
  if (!reply) {
    if (mode == 4) {  // a server's answer that is not a valid one: said so, not waited for again
      q.r.answer = "malformed";
      q.r.detail = error;
      q.mode3_done = true;
    }
    return;
  }
  q.mode3_done = true;
  q.r.reply = reply;
  if (reply->stratum == 0) {
    q.r.answer = "kiss";
    return;
  }
  q.r.answer = "answered";
  const double t1 = unix_seconds(q.sent), t4 = std::max(unix_seconds(at), t1);
  q.r.measured = offset_delay(t1, from_ntp(reply->receive_ts), from_ntp(reply->transmit_ts), t4);
  ClockObservation o;
  o.source = "ntp";
  o.target = (q.r.host.find(':') != std::string::npos ? "[" + q.r.host + "]" : q.r.host) + ":" +
             std::to_string(q.r.port);
  o.offset = q.r.measured.offset;
  o.resolution = std::ldexp(1.0, std::clamp(reply->precision, -32, 0));
  o.round_trip = t4 - t1;
  o.uncertainty = std::max(0.0, q.r.measured.delay) / 2 + o.resolution;
  q.r.observation = o;
}

}  // namespace

std::vector<Result> query(const std::vector<Addr>& hosts, const QueryOptions& opt) {
  std::vector<Result> out;
  out.reserve(hosts.size());
  std::mt19937 rng(static_cast<std::uint32_t>(util::random_seed()));
  for (std::size_t at = 0; at < hosts.size(); at += std::max<std::size_t>(1, opt.concurrency)) {
    std::vector<Query> batch;
    for (std::size_t i = at; i < hosts.size() && i < at + std::max<std::size_t>(1, opt.concurrency); ++i) {
      Query q;
      q.r.host = hosts[i].str();
      q.r.port = opt.port;
      q.r.answer = "no-answer";
      q.sequence = static_cast<std::uint16_t>(rng() | 1);
      q.mode6_done = !opt.mode6;
      std::string error;
      q.fd = open_connected(hosts[i], opt.port, error);
      if (q.fd < 0) {
        finish(q, "error", error);
      } else {
        q.sent = WallClock::now();
        // The transmit timestamp is our clock with random low bits, so that a reply can be matched to it.
        q.sent_ts = to_ntp(unix_seconds(q.sent)) ^ (rng() & 0xFFFu);
        const auto rq = client_request(q.sent_ts);
        if (::send(q.fd, rq.data(), rq.size(), 0) < 0) finish(q, errno == ECONNREFUSED ? "refused" : "error", std::strerror(errno));
        if (opt.mode6 && !q.mode6_done) {
          const auto m6 = readvar_request(q.sequence);
          q.r.mode6_request_bytes = m6.size();
          if (::send(q.fd, m6.data(), m6.size(), 0) < 0) q.mode6_done = true;
        }
      }
      q.deadline = Steady::now() + opt.timeout;
      batch.push_back(std::move(q));
    }
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<Query*> of;
      auto soonest = Steady::time_point::max();
      const auto now = Steady::now();
      for (Query& q : batch) {
        if (q.mode3_done && q.mode6_done) continue;
        if (now >= q.deadline) {
          q.mode3_done = q.mode6_done = true;
          continue;
        }
        fds.push_back({q.fd, POLLIN, 0});
        of.push_back(&q);
        soonest = std::min(soonest, q.deadline);
      }
      if (fds.empty()) break;
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(soonest - now).count() + 1;
      const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(wait, 60000)));
      if (n < 0 && errno != EINTR) break;
      for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLERR))) continue;
        Query& q = *of[i];
        for (int reads = 0; reads < 128 && !(q.mode3_done && q.mode6_done); ++reads) {
          std::uint8_t buf[kMaxPacket + 1];
          const ssize_t got = ::recv(q.fd, buf, sizeof buf, 0);
          const auto at_time = WallClock::now();
          if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
            if (errno == ECONNREFUSED) finish(q, q.r.reply ? "answered" : "refused");
            else finish(q, "error", std::strerror(errno));
            break;
          }
          on_datagram(q, std::span<const std::uint8_t>(buf, static_cast<std::size_t>(got)), at_time);
        }
      }
    }
    for (Query& q : batch) {
      if (q.fd >= 0) ::close(q.fd);
      out.push_back(std::move(q.r));
    }
  }
  return out;
}

}  // namespace dg::scan::ntp
