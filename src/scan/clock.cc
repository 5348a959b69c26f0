#include "scan/clock.h"

#include <algorithm>
#include <cmath>

namespace dg::scan {

using nlohmann::json;

namespace {

constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// A cursor over at most 64 characters of a date: every read checks what is left.
struct Reader {
  std::string_view s;
  std::size_t i = 0;
  bool lit(std::string_view t) {
    if (s.substr(i, t.size()) != t) return false;
    i += t.size();
    return true;
  }
  bool digits(std::size_t min, std::size_t max, int& out) {
    std::size_t n = 0;
    out = 0;
    while (i < s.size() && n < max && s[i] >= '0' && s[i] <= '9') out = out * 10 + (s[i++] - '0'), ++n;
    return n >= min;
  }
  bool alpha(std::string& out, std::size_t max) {
    out.clear();
    while (i < s.size() && out.size() < max && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
      out.push_back(s[i++]);
    return !out.empty();
  }
  bool month(unsigned& m) {
    for (unsigned k = 0; k < 12; ++k)
      if (lit(kMonths[k])) return m = k + 1, true;
    return false;
  }
  bool time(int& h, int& mi, int& se) {
    return digits(2, 2, h) && lit(":") && digits(2, 2, mi) && lit(":") && digits(2, 2, se);
  }
  bool end() const { return i == s.size(); }
};

std::optional<std::int64_t> to_unix(std::int64_t y, unsigned m, int d, int h, int mi, int se) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1] + (m == 2 && leap(y)) || h > 23 || mi > 59 || se > 60)
    return std::nullopt;
  return days_from_civil(y, m, static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + std::min(se, 59);
}

}  // namespace

double unix_seconds(WallClock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::optional<std::int64_t> parse_http_date(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() > 64) return std::nullopt;
  Reader r{s};
  std::string day;
  if (!r.alpha(day, 9)) return std::nullopt;
  int d = 0, y = 0, h = 0, mi = 0, se = 0;
  unsigned m = 0;
  if (day.size() == 3 && r.lit(", ")) {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    if (r.digits(2, 2, d) && r.lit(" ") && r.month(m) && r.lit(" ") && r.digits(4, 4, y) && r.lit(" ") &&
        r.time(h, mi, se) && r.lit(" GMT") && r.end())
      return to_unix(y, m, d, h, mi, se);
    return std::nullopt;
  }
  if (day.size() > 3 && r.lit(", ")) {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    if (!(r.digits(2, 2, d) && r.lit("-") && r.month(m) && r.lit("-") && r.digits(2, 2, y) && r.lit(" ") &&
          r.time(h, mi, se) && r.lit(" GMT") && r.end()))
      return std::nullopt;
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
    return to_unix(y < 70 ? 2000 + y : 1900 + y, m, d, h, mi, se);
  }
  if (day.size() == 3 && r.lit(" ")) {  // asctime: Sun Nov  6 08:49:37 1994
    if (!(r.month(m) && r.lit(" "))) return std::nullopt;
    r.lit(" ");  // a one-digit day is padded with a space
    if (r.digits(1, 2, d) && r.lit(" ") && r.time(h, mi, se) && r.lit(" ") && r.digits(4, 4, y) && r.end())
      return to_unix(y, m, d, h, mi, se);
  }
  return std::nullopt;
}

std::optional<std::int64_t> parse_basic_datetime(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  if (s.size() != 15 || s[8] != 'T') return std::nullopt;
  Reader r{s};
  int y = 0, m = 0, d = 0, h = 0, mi = 0, se = 0;
  if (r.digits(4, 4, y) && r.digits(2, 2, m) && r.digits(2, 2, d) && r.lit("T") && r.digits(2, 2, h) &&
      r.digits(2, 2, mi) && r.digits(2, 2, se) && r.end() && m >= 1)
    return to_unix(y, static_cast<unsigned>(m), d, h, mi, se);
  return std::nullopt;
}

ClockObservation observe(std::string source, std::string target, double server, double resolution,
                         WallClock::time_point sent, WallClock::time_point received) {
  const double t1 = unix_seconds(sent), t4 = std::max(unix_seconds(received), t1);
  ClockObservation o;
  o.source = std::move(source);
  o.target = std::move(target);
  o.resolution = resolution;
  o.round_trip = t4 - t1;
  // The server's true time was in [server, server + resolution) at a local time in [t1, t4]: the middle of both.
  o.offset = (server + resolution / 2) - (t1 + t4) / 2;
  o.uncertainty = resolution / 2 + o.round_trip / 2;
  return o;
}

bool plausible_gmt_unix_time(std::uint32_t v, double local_unix, double window) {
  return std::fabs(static_cast<double>(v) - local_unix) <= window;
}

std::optional<ClockObservation> gmt_unix_time_observation(const std::vector<GmtSample>& samples,
                                                          const std::string& target) {
  if (samples.size() < 2) return std::nullopt;
  std::optional<ClockObservation> best;
  double lo = 0, hi = 0, rtt = 0;
  for (const GmtSample& g : samples) {
    if (!plausible_gmt_unix_time(g.gmt, unix_seconds(g.sent))) return std::nullopt;
    ClockObservation o = observe("tls-gmt-unix-time", target, g.gmt, 1.0, g.sent, g.received);
    lo = best ? std::min(lo, o.offset) : o.offset;
    hi = best ? std::max(hi, o.offset) : o.offset;
    rtt = std::max(rtt, o.round_trip);
    if (!best || o.uncertainty < best->uncertainty) best = std::move(o);
  }
  if (hi - lo > 2.0 + rtt) return std::nullopt;
  return best;
}

Record clock_record(const std::string& host, const std::vector<ClockObservation>& obs, double max_skew) {
  Record rec;
  if (obs.empty()) return rec;
  rec.type = "clock";
  const auto best = std::min_element(obs.begin(), obs.end(), [](const ClockObservation& a, const ClockObservation& b) {
    return a.uncertainty < b.uncertainty;
  });
  auto round = [](double v) { return std::round(v * 1e6) / 1e6; };
  json list = json::array();
  for (const ClockObservation& o : obs)
    list.push_back({{"source", o.source},
                    {"target", o.target},
                    {"offset_seconds", round(o.offset)},
                    {"uncertainty_seconds", round(o.uncertainty)},
                    {"resolution_seconds", round(o.resolution)},
                    {"round_trip_seconds", round(o.round_trip)}});
  // Skewed when any observation is off beyond what it cannot tell apart: |offset| - uncertainty > max_skew (a
  // service that stamps its own time wrong, say a proxy with a stale clock, counts as much as the host's NTP).
  auto beyond = [](const ClockObservation& o) { return std::fabs(o.offset) - o.uncertainty; };
  const auto worst = std::max_element(obs.begin(), obs.end(), [&](const ClockObservation& a, const ClockObservation& b) {
    return beyond(a) < beyond(b);
  });
  const bool skewed = beyond(*worst) > max_skew;
  rec.status = skewed ? "skewed" : "in-sync";
  rec.fields = {{"target", host},
                {"address", host},
                {"offset_seconds", round(best->offset)},
                {"uncertainty_seconds", round(best->uncertainty)},
                {"source", best->source},
                {"max_skew_seconds", max_skew},
                {"status", rec.status},
                {"observations", list}};
  if (skewed)
    rec.findings.push_back(make_finding("clock.skew", host,
                                        {{"offset_seconds", round(worst->offset)},
                                         {"uncertainty_seconds", round(worst->uncertainty)},
                                         {"source", worst->source},
                                         {"from", worst->target},
                                         {"max_skew_seconds", max_skew}}));
  return rec;
}

}  // namespace dg::scan
