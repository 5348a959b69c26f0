// libFuzzer target for the scan's DIMSE probe: the input is what a hostile server sends, cut into reads, with
// connection failures in between. Drives the whole state machine (AE matrix, commands, release, TLS retry) and
// the service record built from its result.
#include <cstddef>
#include <algorithm>
#include <cstdint>

#include "scan/dimse_probe.h"
#include "scan/service.h"
#include "support/probe_driver.h"

using namespace dg::scan;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  DimseOptions o;
  o.seed = 1;
  o.discover = data[0] & 1;
  o.count_records = data[0] & 2;
  o.tls_only = data[0] & 4;
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, o);
  std::size_t i = 1;
  dgtest::Peer peer;
  peer.connect = [](const Step& s) {
    if (!s.tls) return dgtest::Answer::connected();
    TlsSession ts;
    ts.version = "TLSv1.3";
    return dgtest::Answer::tls(ts);
  };
  // Every read (after a request or not) takes the next chunk: [length] [bytes], or 0xFF [failure].
  peer.receive = [&]() {
    if (i >= size) return dgtest::Answer::fail(Failure::timeout, "end of input");
    const std::uint8_t len = data[i++];
    if (len == 0xFF) return dgtest::Answer::fail(static_cast<Failure>((i < size ? data[i++] : 0) % 7), "fuzz");
    const std::size_t n = std::min<std::size_t>(len, size - i);
    auto a = dgtest::Answer::data({data + i, data + i + n});
    i += n;
    return a;
  };
  dgtest::drive(p, peer);
  (void)dimse_record(p.result());
  return 0;
}
