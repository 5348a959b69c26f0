// Clock observations (HTTP Date, gmt_unix_time, the offset arithmetic, the clock record) and the NTP codec of
// the --ntp pass (client request, reply, mode 6 fragments and variables, the ntp record): no network.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "scan/clock.h"
#include "scan/http_probe.h"
#include "scan/ntp.h"
#include "support/probe_driver.h"

using namespace dg::scan;
using dg::Record;

namespace {

using namespace std::chrono_literals;

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

void put32(std::vector<std::uint8_t>& p, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
void put64(std::vector<std::uint8_t>& p, std::size_t at, std::uint64_t v) {
  put32(p, at, static_cast<std::uint32_t>(v >> 32));
  put32(p, at + 4, static_cast<std::uint32_t>(v));
}

// A server reply to a request sent with transmit timestamp `origin`.
std::vector<std::uint8_t> reply(std::uint64_t origin, int stratum, std::uint32_t refid, double t2, double t3,
                                int mode = 4, int version = 4) {
  std::vector<std::uint8_t> p(48, 0);
  p[0] = static_cast<std::uint8_t>(0 << 6 | version << 3 | mode);
  p[1] = static_cast<std::uint8_t>(stratum);
  p[2] = 6;
  p[3] = static_cast<std::uint8_t>(-20);
  put32(p, 4, 0x00000800);  // root delay 1/32 s
  put32(p, 8, 0x00010000);  // root dispersion 1 s
  put32(p, 12, refid);
  put64(p, 24, origin);
  put64(p, 32, ntp::to_ntp(t2));
  put64(p, 40, ntp::to_ntp(t3));
  return p;
}

}  // namespace

// ---------------------------------------------------------------- HTTP Date

TEST(HttpDate, TheThreeFormsOfRfc9110) {
  // RFC 9110 5.6.7's own example, in its three forms: 784111777 seconds after the epoch.
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT \t"), 784111777);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"), 1835481599);
  // Two-digit years of RFC 850: 70-99 are 19xx, 00-69 20xx.
  EXPECT_EQ(parse_http_date("Wednesday, 02-Dec-26 14:00:00 GMT"), 1796220000);
}

TEST(HttpDate, WhatIsNotADateIsRefused) {
  for (const char* bad : {"", "Sun", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
                          "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
                          "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
                          "Sun, 06 Nov 1994 08:49:37 GMTX", "1994-11-06T08:49:37Z", "Sun, 06 Nov 19945 08:49:37 GMT"})
    EXPECT_FALSE(parse_http_date(bad)) << bad;
  EXPECT_FALSE(parse_http_date(std::string(65, 'A')));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT" + std::string(40, ' ') + "x"));
}

TEST(OrthancNow, TheBasicIsoFormOfToolsNow) {
  EXPECT_EQ(parse_basic_datetime("19941106T084937"), 784111777);
  EXPECT_EQ(parse_basic_datetime("19941106T084937\n"), 784111777);
  for (const char* bad : {"", "19941106084937", "19941106T08493", "19941106T0849377", "19941306T084937",
                          "19941106T254937", "1994-11-06T08:49:37", "19941106t084937", "19940000T000000"})
    EXPECT_FALSE(parse_basic_datetime(bad)) << bad;
}

// ---------------------------------------------------------------- offsets

TEST(ClockOffset, OneSecondResolutionAndTheRoundTripMakeTheUncertainty) {
  const auto sent = WallClock::time_point(std::chrono::seconds(1000000));
  // The server said 1000600 (truncated) between our send and our receive 200 ms later: 600.5 - 0.1 = 600.4 s.
  const ClockObservation o = observe("http-date", "127.0.0.1:80", 1000600, 1.0, sent, sent + 200ms);
  EXPECT_NEAR(o.offset, 600.4, 1e-9);
  EXPECT_NEAR(o.uncertainty, 0.6, 1e-9);
  EXPECT_NEAR(o.round_trip, 0.2, 1e-9);
  EXPECT_EQ(o.resolution, 1.0);
  // A server in step with us: the offset is within its uncertainty of 0.
  const ClockObservation same = observe("http-date", "127.0.0.1:80", 1000000, 1.0, sent, sent + 10ms);
  EXPECT_LE(std::fabs(same.offset), same.uncertainty);
}

TEST(ClockOffset, GmtUnixTimeIsATimeOnlyNearOurs) {
  const double now = 1.8e9;
  EXPECT_TRUE(plausible_gmt_unix_time(1800000000, now));
  EXPECT_TRUE(plausible_gmt_unix_time(1800000000 - 300 * 86400, now));
  EXPECT_FALSE(plausible_gmt_unix_time(1800000000 - 400 * 86400, now));
  EXPECT_FALSE(plausible_gmt_unix_time(0x9a3c51f2, now));  // random bytes, years away
  EXPECT_FALSE(plausible_gmt_unix_time(0, now));
}

TEST(ClockOffset, GmtUnixTimeCountsOnlyWhenTheHellosAgree) {
  const auto t = WallClock::time_point(std::chrono::seconds(1800000000));
  const auto at = [&](int s) { return t + std::chrono::seconds(s); };
  // Two hellos a second apart, each stamped with the server's clock 60 s slow: a time.
  auto o = gmt_unix_time_observation({{1800000000 - 60, at(0), at(0) + 5ms}, {1800000001 - 60, at(1), at(1) + 2ms}},
                                     "127.0.0.1:443");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->source, "tls-gmt-unix-time");
  EXPECT_NEAR(o->offset, -59.5, 0.01);
  EXPECT_NEAR(o->round_trip, 0.002, 1e-6);  // the more certain of the two
  // One hello settles nothing; two plausible values that disagree by minutes are random; one implausible
  // value makes them all random.
  EXPECT_FALSE(gmt_unix_time_observation({{1800000000, at(0), at(0)}}, "x"));
  EXPECT_FALSE(gmt_unix_time_observation({{1800000000, at(0), at(0)}, {1800000300, at(1), at(1)}}, "x"));
  EXPECT_FALSE(gmt_unix_time_observation({{1800000000, at(0), at(0)}, {1800000001, at(1), at(1)}, {0x5A5A5A5A, at(2), at(2)}}, "x"));
}

TEST(ClockRecord, SkewedBeyondItsUncertaintyOnly) {
  const auto t = WallClock::time_point(std::chrono::seconds(1700000000));
  // 10 minutes off: clock.skew, with the observation as evidence.
  Record r = clock_record("127.0.0.2", {observe("http-date", "127.0.0.2:8080", 1700000600, 1, t, t + 2ms)}, 2);
  EXPECT_EQ(r.type, "clock");
  EXPECT_EQ(r.status, "skewed");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].check, "clock.skew");
  EXPECT_EQ(r.findings[0].target, "127.0.0.2");
  EXPECT_NEAR(r.findings[0].evidence["offset_seconds"].get<double>(), 600.499, 0.01);
  EXPECT_EQ(r.findings[0].evidence["from"], "127.0.0.2:8080");
  // 2.4 s off with a 1-second resolution: within 2 s of ours as far as this measurement can tell.
  r = clock_record("127.0.0.2", {observe("http-date", "127.0.0.2:8080", 1700000002, 1, t, t)}, 2);
  EXPECT_EQ(r.status, "in-sync");
  EXPECT_TRUE(r.findings.empty());
  // 3 s off: beyond it.
  r = clock_record("127.0.0.2", {observe("http-date", "127.0.0.2:8080", 1700000003, 1, t, t)}, 2);
  EXPECT_EQ(r.status, "skewed");
  // No observation: no record.
  EXPECT_TRUE(clock_record("127.0.0.2", {}, 2).type.empty());
}

TEST(ClockRecord, TheBestEstimateIsTheMostCertainAndAnyOffObservationCounts) {
  ClockObservation ntp_obs{"ntp", "127.0.0.1:123", 0.0004, 1e-6, 0.0002, 0.0001};
  ClockObservation http{"http-date", "127.0.0.1:8080", 600.4, 1, 0.002, 0.501};
  Record r = clock_record("127.0.0.1", {http, ntp_obs}, 2);
  EXPECT_EQ(r.fields["source"], "ntp");
  EXPECT_NEAR(r.fields["offset_seconds"].get<double>(), 0.0004, 1e-9);
  EXPECT_EQ(r.fields["observations"].size(), 2u);
  ASSERT_EQ(r.findings.size(), 1u);  // the web server's clock is off even though NTP's is not
  EXPECT_EQ(r.findings[0].evidence["source"], "http-date");
}

TEST(HttpProbeClock, TheDateHeaderBecomesAnObservation) {
  HttpOptions o;
  o.seed = 1;
  HttpProbe p({*parse_addr("127.0.0.1"), 8080, {}}, o);
  const auto date = WallClock::now() + 600s;
  const std::time_t tt = WallClock::to_time_t(date);
  char buf[64];
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  dgtest::Peer peer;
  peer.send = [&](const std::vector<std::uint8_t>&) {
    return dgtest::Answer::data(
        bytes(std::string("HTTP/1.1 404 Not Found\r\nDate: ") + buf + "\r\nContent-Length: 0\r\n\r\n"));
  };
  dgtest::drive(p, peer);
  ASSERT_TRUE(p.result().clock);
  EXPECT_EQ(p.result().clock->source, "http-date");
  EXPECT_EQ(p.result().clock->target, "127.0.0.1:8080");
  EXPECT_NEAR(p.result().clock->offset, 600, 1.0);
}

// ---------------------------------------------------------------- NTP

TEST(Ntp, TimestampsRoundTrip) {
  EXPECT_EQ(ntp::to_ntp(0) >> 32, 2208988800u);
  EXPECT_NEAR(ntp::from_ntp(ntp::to_ntp(1764680000.25)), 1764680000.25, 1e-6);
  // After 2036-02-07 the seconds field wraps (era 1).
  EXPECT_NEAR(ntp::from_ntp(ntp::to_ntp(2100000000.5)), 2100000000.5, 1e-6);
}

TEST(Ntp, TheClientRequestIsMode3Version4With48Bytes) {
  const auto rq = ntp::client_request(0x0102030405060708ull);
  ASSERT_EQ(rq.size(), 48u);
  EXPECT_EQ(rq[0], 0x23);  // LI 0, VN 4, mode 3
  EXPECT_EQ(rq[40], 1);
  EXPECT_EQ(rq[47], 8);
  for (std::size_t i = 1; i < 40; ++i) EXPECT_EQ(rq[i], 0) << i;
}

TEST(Ntp, AReplyGivesOffsetDelayStratumAndReference) {
  const double t1 = 1764680000.0;
  const std::uint64_t origin = ntp::to_ntp(t1);
  // The server is 5 s ahead; 10 ms each way, 1 ms inside it.
  const auto p = reply(origin, 2, 0xC0000201, t1 + 5.010, t1 + 5.011);
  std::string err;
  auto r = ntp::parse_reply(p, origin, err);
  ASSERT_TRUE(r) << err;
  EXPECT_EQ(r->version, 4);
  EXPECT_EQ(r->stratum, 2);
  EXPECT_EQ(r->reference, "192.0.2.1");
  EXPECT_EQ(r->precision, -20);
  EXPECT_EQ(r->poll, 6);
  EXPECT_NEAR(r->root_delay, 1.0 / 32, 1e-9);
  EXPECT_NEAR(r->root_dispersion, 1.0, 1e-9);
  EXPECT_EQ(r->extra_bytes, 0u);
  const auto od = ntp::offset_delay(t1, ntp::from_ntp(r->receive_ts), ntp::from_ntp(r->transmit_ts), t1 + 0.021);
  EXPECT_NEAR(od.offset, 5.0, 1e-6);
  EXPECT_NEAR(od.delay, 0.020, 1e-6);
}

TEST(Ntp, StratumOneAndKissCodesAreAscii) {
  const std::uint64_t origin = 42;
  std::string err;
  auto r = ntp::parse_reply(reply(origin, 1, 0x47505300, 0, 0), origin, err);  // "GPS\0"
  ASSERT_TRUE(r) << err;
  EXPECT_EQ(r->reference, "GPS");
  r = ntp::parse_reply(reply(origin, 0, 0x52415445, 0, 0), origin, err);  // "RATE"
  ASSERT_TRUE(r) << err;
  EXPECT_EQ(r->kiss_code, "RATE");
}

TEST(Ntp, WhatIsNotAReplyToUsIsRefused) {
  const std::uint64_t origin = 0x1122334455667788ull;
  std::string err;
  const auto good = reply(origin, 2, 1, 0, 0);
  EXPECT_FALSE(ntp::parse_reply(std::span(good).first(47), origin, err));
  EXPECT_NE(err.find("48"), std::string::npos);
  EXPECT_FALSE(ntp::parse_reply(good, origin + 1, err));  // another request's answer (or a spoofed one)
  EXPECT_NE(err.find("origin"), std::string::npos);
  EXPECT_FALSE(ntp::parse_reply(reply(origin, 2, 1, 0, 0, 3), origin, err));   // a client's packet
  EXPECT_FALSE(ntp::parse_reply(reply(origin, 2, 1, 0, 0, 4, 0), origin, err));  // version 0
  std::vector<std::uint8_t> big = good;
  big.resize(ntp::kMaxPacket + 1);
  EXPECT_FALSE(ntp::parse_reply(big, origin, err));
  // Extension fields or a MAC after the header are counted, not parsed.
  std::vector<std::uint8_t> mac = good;
  mac.resize(48 + 20);
  auto r = ntp::parse_reply(mac, origin, err);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->extra_bytes, 20u);
}

TEST(NtpMode6, ReadvarRequestAndAnswer) {
  const auto rq = ntp::readvar_request(0x1234);
  ASSERT_EQ(rq.size(), 12u);
  EXPECT_EQ(rq[0], 0x16);  // VN 2, mode 6
  EXPECT_EQ(rq[1], 0x02);  // READVAR
  EXPECT_EQ(rq[2], 0x12);
  EXPECT_EQ(rq[3], 0x34);
  const std::string text = "version=\"ntpd 4.2.8p15\", processor=\"x86_64\",\r\nsystem=\"Linux/6.1.0\", leap=0, stratum=2";
  std::vector<std::uint8_t> p = {0x16, 0xA2, 0x12, 0x34, 0x06, 0x15, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(text.size())};
  p.insert(p.end(), text.begin(), text.end());
  std::string err;
  auto f = ntp::parse_mode6(p, err);
  ASSERT_TRUE(f) << err;
  EXPECT_TRUE(f->response);
  EXPECT_TRUE(f->more);
  EXPECT_FALSE(f->error);
  EXPECT_EQ(f->opcode, 2);
  EXPECT_EQ(f->sequence, 0x1234);
  const auto vars = ntp::parse_variables(f->data);
  ASSERT_EQ(vars.size(), 5u);
  EXPECT_EQ(vars[0], (std::pair<std::string, std::string>{"version", "ntpd 4.2.8p15"}));
  EXPECT_EQ(vars[2], (std::pair<std::string, std::string>{"system", "Linux/6.1.0"}));
  EXPECT_EQ(vars[4], (std::pair<std::string, std::string>{"stratum", "2"}));
  // A count past the end, a short header, another mode.
  p[11] = static_cast<std::uint8_t>(text.size() + 1);
  EXPECT_FALSE(ntp::parse_mode6(p, err));
  EXPECT_FALSE(ntp::parse_mode6(std::span(p).first(11), err));
  p[0] = 0x23;
  EXPECT_FALSE(ntp::parse_mode6(p, err));
}

TEST(NtpMode6, VariablesAreBoundedAndPrintable) {
  std::string many;
  for (int i = 0; i < 200; ++i) many += "v" + std::to_string(i) + "=" + std::to_string(i) + ",";
  EXPECT_EQ(ntp::parse_variables(many).size(), ntp::kMaxVariables);
  const auto v = ntp::parse_variables("system=\"" + std::string(500, 'x') + "\x01\"");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].second.size(), 128u);
  EXPECT_EQ(ntp::parse_variables("version=\"unterminated").at(0).second, "unterminated");
  EXPECT_EQ(ntp::parse_variables(std::string(300, 'n')).size(), 5u);  // names cut at 64 characters
  EXPECT_TRUE(ntp::parse_variables("").empty());
}

TEST(NtpRecord, FindingsFollowWhatAnswered) {
  ntp::Result r;
  r.host = "127.0.0.1";
  r.port = 11123;
  EXPECT_TRUE(ntp::ntp_record(r).type.empty());  // nothing answered: no record
  std::string err;
  r.reply = ntp::parse_reply(reply(7, 8, 0x7F7F0101, 0, 0), 7, err);
  r.answer = "answered";
  r.nts_ke = "refused";
  Record rec = ntp::ntp_record(r);
  EXPECT_EQ(rec.type, "ntp");
  EXPECT_EQ(rec.fields["target"], "127.0.0.1:11123");
  EXPECT_EQ(rec.fields["reference_id"], "127.127.1.1");
  std::vector<std::string> checks;
  for (const auto& f : rec.findings) checks.push_back(f.check);
  EXPECT_EQ(checks, (std::vector<std::string>{"ntp.exposed", "ntp.unauthenticated"}));
  // NTS-KE offered: authenticated time is available, so no ntp.unauthenticated.
  r.nts_ke = "offered";
  checks.clear();
  for (const auto& f : ntp::ntp_record(r).findings) checks.push_back(f.check);
  EXPECT_EQ(checks, (std::vector<std::string>{"ntp.exposed"}));
  // Mode 6 answered: the amplification factor and what it disclosed.
  r.mode6_answered = true;
  r.mode6_request_bytes = 12;
  r.mode6_reply_bytes = 480;
  r.mode6_fragments = 1;
  r.variables = {{"version", "ntpd 4.2.8p15"}, {"system", "Linux"}, {"clock", "e9b1"}};
  rec = ntp::ntp_record(r);
  EXPECT_EQ(rec.status, "mode6");
  ASSERT_EQ(rec.findings.size(), 2u);
  EXPECT_EQ(rec.findings[1].check, "ntp.mode6");
  EXPECT_EQ(rec.findings[1].evidence["amplification"], 40.0);
  EXPECT_EQ(rec.findings[1].evidence["disclosed"]["version"], "ntpd 4.2.8p15");
  EXPECT_FALSE(rec.findings[1].evidence["disclosed"].contains("clock"));
  // A kiss-o'-death serves no time: no ntp.exposed.
  r.mode6_answered = false;
  r.reply = ntp::parse_reply(reply(7, 0, 0x44454E59, 0, 0), 7, err);
  rec = ntp::ntp_record(r);
  EXPECT_EQ(rec.status, "kiss");
  EXPECT_EQ(rec.fields["kiss_code"], "DENY");
  EXPECT_TRUE(rec.findings.empty());
}
