// libFuzzer target for the scan's DIMSE probe: the input is what a hostile server sends, cut into reads, with
// connection failures in between. Drives the whole state machine (AE matrix, commands, release, TLS retry) and
// the service record built from its result.
#include <cstddef>
#include <cstdint>

#include "scan/dimse_probe.h"
#include "scan/service.h"

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
  Step s = p.begin();
  for (int steps = 0; steps < 100000 && s.kind != Step::Kind::finish; ++steps) {
    if (s.kind == Step::Kind::connect) {
      s = p.on_connected(s.tls ? "TLSv1.3" : "", "");
      continue;
    }
    if (i >= size) {
      s = p.on_failure(Failure::timeout, "end of input");
      continue;
    }
    const std::uint8_t len = data[i++];
    if (len == 0xFF) {  // a failure instead of bytes
      const auto f = static_cast<Failure>((i < size ? data[i++] : 0) % 7);
      s = p.on_failure(f, "fuzz");
      continue;
    }
    const std::size_t n = std::min<std::size_t>(len, size - i);
    s = p.on_data({data + i, n});
    i += n;
  }
  (void)dimse_record(p.result());
  return 0;
}
