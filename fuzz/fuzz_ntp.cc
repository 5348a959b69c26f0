// libFuzzer target for what a hostile time server (or anything on UDP 123) sends the --ntp pass: an NTP reply,
// mode 6 fragments and the variables inside them; and the clock parsers of other probes (an HTTP Date header).
// The first byte picks what the rest is fed to; the record builders run on what parsed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scan/clock.h"
#include "scan/ntp.h"

using namespace dg::scan;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t how = data[0];
  std::span<const std::uint8_t> in(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  std::string err;

  ntp::Result r;
  r.host = "127.0.0.1";
  // The origin timestamp must match for a reply to parse: take it from the input itself half of the time.
  std::uint64_t sent = 0;
  if ((how & 1) && in.size() >= 32)
    for (int i = 0; i < 8; ++i) sent = sent << 8 | in[24 + i];
  if (auto reply = ntp::parse_reply(in, sent, err)) {
    r.reply = reply;
    r.answer = reply->stratum == 0 ? "kiss" : "answered";
    r.measured = ntp::offset_delay(1.7e9, ntp::from_ntp(reply->receive_ts), ntp::from_ntp(reply->transmit_ts), 1.7e9 + 0.01);
  }
  err.clear();
  // Mode 6: the input as one datagram, and cut into fragments of a length the first byte picks.
  if (auto f = ntp::parse_mode6(in, err)) {
    r.mode6_answered = true;
    r.mode6_request_bytes = 12;
    r.mode6_reply_bytes = in.size();
    r.variables = ntp::parse_variables(f->data);
  }
  const std::size_t cut = 12 + how % 64;
  for (std::size_t at = 0; at < in.size(); at += cut) {
    err.clear();
    (void)ntp::parse_mode6(in.subspan(at, std::min(cut, in.size() - at)), err);
  }
  (void)ntp::parse_variables(text);
  r.nts_ke = how & 2 ? "offered" : "refused";
  (void)ntp::ntp_record(r);

  // Clock parsers: an HTTP Date, and the record of what it gives.
  if (auto d = parse_http_date(text)) {
    const auto now = WallClock::now();
    std::vector<ClockObservation> obs{observe("http-date", "127.0.0.1:80", static_cast<double>(*d), 1, now, now)};
    (void)clock_record("127.0.0.1", obs, 2);
  }
  if (in.size() >= 4)
    (void)plausible_gmt_unix_time(static_cast<std::uint32_t>(in[0]) << 24 | in[1] << 16 | in[2] << 8 | in[3], 1.7e9);
  return 0;
}
