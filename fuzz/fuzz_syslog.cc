// libFuzzer target for what a syslog sender controls before the XML: RFC 6587 framing of a TCP/TLS stream (cut
// into reads where the first byte says) and the RFC 5424 header of every frame, then the whole audit record.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "audit/record.h"
#include "audit/syslog_parse.h"

using namespace dg::audit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t cut = 1 + data[0] % 32;
  syslog::Framer framer(1 + (data[0] >> 5) * 64);  // small limits reach the oversized paths
  std::vector<syslog::Frame> frames;
  for (std::size_t i = 0; i < in.size(); i += cut) framer.feed(in.substr(i, cut), frames);
  framer.finish(frames);
  Recorder rec;
  for (const auto& f : frames) {
    if (f.kind != syslog::Frame::Kind::message) continue;
    syslog::Message m;
    std::string why;
    (void)syslog::parse_5424(f.data, m, why);
    Received r;
    r.transport = "tcp";
    r.sender = "127.0.0.1";
    r.data = f.data;
    (void)rec.record(r);
  }
  (void)syslog::parse_time(in.substr(0, 64));
  return 0;
}
