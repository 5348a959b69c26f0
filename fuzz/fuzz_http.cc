// libFuzzer target for the scan's HTTP response reader and the HTTP probe that consumes it: what a hostile web
// server sends. The first byte picks where the input is cut into reads.
#include <cstddef>
#include <algorithm>
#include <cstdint>

#include "scan/http.h"
#include "scan/http_probe.h"
#include "scan/service.h"
#include "support/probe_driver.h"

using namespace dg::scan;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::span<const std::uint8_t> in(data + 1, size - 1);
  std::string err;
  (void)http::parse(in, false, err);
  err.clear();
  (void)http::parse(in, true, err);

  HttpOptions o;
  o.try_default_credentials = data[0] & 1;
  o.seed = 1;
  HttpProbe p({*parse_addr("127.0.0.1"), 8042, {}}, o);
  const std::size_t cut = 1 + data[0] % 64;
  std::size_t i = 0;
  int eofs = 0;
  dgtest::Peer peer;
  peer.receive = [&]() {
    if (i < in.size()) {
      const std::size_t n = std::min(cut, in.size() - i);
      auto a = dgtest::Answer::data({in.begin() + i, in.begin() + i + n});
      i += n;
      return a;
    }
    i = 0;  // every request gets the same answer
    return dgtest::Answer::fail(Failure::closed, ++eofs > 50 ? "eof (the last)" : "eof");
  };
  dgtest::drive(p, peer, 10000);
  (void)http_record(p.result());
  return 0;
}
