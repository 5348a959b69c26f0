// NTP as the scan's --ntp pass speaks it, sans I/O: the 48-byte client request (mode 3, RFC 5905 7.3), its
// reply parsed with every length checked (mode 4, version, leap, stratum, reference ID or kiss code, the four
// timestamps, what follows the header), the offset and delay of RFC 5905 8, and the mode 6 READVAR request of
// ntpq's "rv" (RFC 1305 Appendix B) with its fragments and the variables they carry. The {"type":"ntp"} record
// and the ntp.* checks are made here too, from an NtpResult the I/O side (scan/ntp_client) fills.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "findings/finding.h"
#include "scan/clock.h"

namespace dg::scan::ntp {

inline constexpr std::size_t kHeader = 48;           // an NTP packet without extension fields or MAC
inline constexpr std::size_t kMaxPacket = 2048;      // bytes of one datagram looked at; more is malformed
inline constexpr std::size_t kMode6Header = 12;
inline constexpr std::size_t kMaxMode6Fragments = 64;  // fragments of one mode 6 answer kept
inline constexpr std::size_t kMaxVariables = 64;     // variables kept of a READVAR answer
inline constexpr double kUnixToNtp = 2208988800.0;   // seconds from 1900-01-01 to 1970-01-01

// 64-bit NTP timestamps (seconds since 1900 << 32 | fraction) to and from Unix seconds; era 1 (after 2036-02-07)
// when the seconds field is below 2^31.
std::uint64_t to_ntp(double unix_seconds);
double from_ntp(std::uint64_t ts);

// The client request: LI 0, VN 4, mode 3, and `transmit` in the transmit timestamp (the server copies it into
// the reply's origin timestamp, which is how a reply is matched to it).
std::vector<std::uint8_t> client_request(std::uint64_t transmit);

struct Reply {
  int leap = 0, version = 0, mode = 0, stratum = 0, poll = 0, precision = 0;
  double root_delay = 0, root_dispersion = 0;  // seconds
  std::uint32_t reference_id = 0;
  std::string reference;   // stratum 1: the source ("GPS", "PPS"); 2-15: an IPv4 address (or an IPv6 hash)
  std::string kiss_code;   // stratum 0: the kiss-o'-death code (RATE, DENY, RSTR, ...)
  std::uint64_t reference_ts = 0, origin_ts = 0, receive_ts = 0, transmit_ts = 0;
  std::size_t extra_bytes = 0;  // extension fields or a MAC after the 48-byte header
};

// A mode 4 (server) reply to the request whose transmit timestamp was `sent`. nullopt with `error` set when it
// is not one: too short or long, another mode, version 0 or above 4, or an origin timestamp that is not ours.
std::optional<Reply> parse_reply(std::span<const std::uint8_t> p, std::uint64_t sent, std::string& error);

// RFC 5905 8: offset theta = ((T2 - T1) + (T3 - T4)) / 2, delay delta = (T4 - T1) - (T3 - T2); seconds.
struct OffsetDelay {
  double offset = 0, delay = 0;
};
OffsetDelay offset_delay(double t1, double t2, double t3, double t4);

// The mode 6 READVAR request for the system variables (association 0), as `ntpq -c rv` sends it.
std::vector<std::uint8_t> readvar_request(std::uint16_t sequence);

struct Mode6Fragment {
  bool response = false, error = false, more = false;
  int opcode = 0;
  std::uint16_t sequence = 0, status = 0, association = 0, offset = 0, count = 0;
  std::string data;  // `count` bytes
};
// One mode 6 datagram; nullopt with `error` set when it is not one (short, not mode 6, count past the end).
std::optional<Mode6Fragment> parse_mode6(std::span<const std::uint8_t> p, std::string& error);

// The variables of a READVAR answer ("version=\"ntpd 4.2.8p15\", system=\"Linux/6.1\", stratum=2, ..."): names
// and values printable ASCII, values without their quotes, each at most 128 characters, at most kMaxVariables.
std::vector<std::pair<std::string, std::string>> parse_variables(std::string_view text);

// What the --ntp pass measured on one host.
struct Result {
  std::string host;        // the address
  std::uint16_t port = 123;
  std::string answer;      // answered, kiss, no-answer, refused, malformed, error
  std::string detail;      // why malformed or error
  std::optional<Reply> reply;
  OffsetDelay measured;
  std::optional<ClockObservation> observation;  // from a synchronized answer
  // mode 6
  bool mode6_answered = false;
  std::size_t mode6_request_bytes = 0, mode6_reply_bytes = 0, mode6_fragments = 0;
  std::vector<std::pair<std::string, std::string>> variables;
  // NTS-KE (RFC 8915): TLS with ALPN ntske/1 on TCP nts_port
  std::uint16_t nts_port = 4460;
  std::string nts_ke;      // offered, not-offered (TLS without ntske/1), refused, timeout, closed, tls-failed, ...
  std::string nts_tls_version;
  bool nts_offered() const { return nts_ke == "offered"; }
};

// The {"type":"ntp"} record of a host, with ntp.exposed, ntp.mode6 and ntp.unauthenticated; empty type when
// nothing answered NTP (no mode 3, no mode 6 answer).
Record ntp_record(const Result& r);

}  // namespace dg::scan::ntp
