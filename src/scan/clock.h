// A host's clock as the scan sees it: offsets measured from what its services already send (an HTTP Date
// header, a TLS 1.2 ServerHello's gmt_unix_time when it is a time and not random, an NTP reply with --ntp), each
// with its uncertainty, and the {"type":"clock"} record of one host with the clock.skew check. Sans I/O: the
// probes give the times they sent and received at, and the server's time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "findings/finding.h"

namespace dg::scan {

using WallClock = std::chrono::system_clock;

// One measurement of a host's clock against ours: offset = server time - local time, in seconds.
struct ClockObservation {
  std::string source;        // http-date, orthanc-tools-now, tls-gmt-unix-time, ntp (and what comes: atna, ...)
  std::string target;        // the endpoint it came from: 127.0.0.1:8042, 127.0.0.1:123 (udp)
  double offset = 0;         // seconds, server - local
  double resolution = 0;     // of the server's time: 1 s for HTTP Date and gmt_unix_time, ~0 for NTP
  double round_trip = 0;     // seconds between our request and its answer
  double uncertainty = 0;    // the true offset is within offset +- uncertainty (resolution/2 + round_trip/2)
};

// Seconds since the Unix epoch (UTC) of a local time point.
double unix_seconds(WallClock::time_point t);

// An HTTP date (RFC 9110 5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850
// "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994" forms, as seconds since the epoch.
// nullopt when it is none of these (at most 64 characters are looked at; a field out of range is no date).
std::optional<std::int64_t> parse_http_date(std::string_view s);

// A UTC date and time in the ISO 8601 basic form Orthanc's /tools/now answers, "20261202T150934" (exactly 15
// characters, surrounding white space aside), as seconds since the epoch; nullopt otherwise.
std::optional<std::int64_t> parse_basic_datetime(std::string_view s);

// An offset from a server time with a resolution of `resolution` seconds, truncated (HTTP Date, gmt_unix_time:
// the server's time was in [server, server + resolution)), stamped somewhere between our send and our receive.
ClockObservation observe(std::string source, std::string target, double server, double resolution,
                         WallClock::time_point sent, WallClock::time_point received);

// TLS 1.2 and older ServerHello.random begins with gmt_unix_time (RFC 5246 7.4.1.2), but most servers now send
// 32 random bytes (RFC 8446 deprecates it). A value is plausible when it falls within `window` seconds of our
// clock; random bytes do so with a chance of about 2 * window / 2^32 (1.5 % for a year), too often for one
// hello to settle it.
bool plausible_gmt_unix_time(std::uint32_t v, double local_unix, double window = 366 * 86400.0);

// One ServerHello's gmt_unix_time and when we sent the hello and got the answer.
struct GmtSample {
  std::uint32_t gmt = 0;
  WallClock::time_point sent{}, received{};
};
// gmt_unix_time read as a time only when the server's hellos agree: at least two, every one plausible, and the
// offsets they give within 2 s (plus the round trips) of each other; random bytes agree that way with a chance
// of about 2^-30. The observation of the one with the smallest uncertainty, or nullopt.
std::optional<ClockObservation> gmt_unix_time_observation(const std::vector<GmtSample>& samples,
                                                          const std::string& target);

// The {"type":"clock"} record of one host: its observations, the best estimate (the smallest uncertainty), and
// clock.skew when an observation is off by more than max_skew beyond its own uncertainty (evidence: the one
// furthest off). Empty type when there is no observation.
Record clock_record(const std::string& host, const std::vector<ClockObservation>& obs, double max_skew);

}  // namespace dg::scan
