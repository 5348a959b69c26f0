// libFuzzer target for the lab's SCP (lab/scp.h): the input is what a hostile client sends, cut into reads by
// its first byte. Whatever arrives, the SCP answers with whole PDUs or closes, and never answers after closing.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "lab/scp.h"

namespace {

struct Events : dg::lab::ScpEvents {
  void associated(const std::string&) override { ++associations; }
  void stored(const std::string&) override { ++stored_count; }
  int associations = 0, stored_count = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  dg::lab::ServerConfig cfg{"fuzz", "FUZZ_SCP", (data[0] & 0x80) != 0, {}, false, 0};
  if (data[0] & 0x40) cfg.allowed_calling = {"LAB_VIEWER"};
  if (data[0] & 0x01) cfg.services = dg::lab::Services::echo_store;  // the legacy archive of lab --legacy
  Events ev;
  dg::lab::Scp scp(cfg, ev, "127.0.0.1");
  const std::size_t cut = 1 + (data[0] & 0x3F) * 37;
  bool closed = false;
  for (std::size_t i = 1; i < size && !closed;) {
    const std::size_t n = std::min(cut, size - i);
    const auto out = scp.on_bytes({data + i, n});
    i += n;
    for (const auto& b : out.send) {
      // Whole PDUs, one after another: type, reserved, a 4-byte length that matches.
      for (std::size_t p = 0; p < b.size();) {
        if (b.size() - p < 6) __builtin_trap();
        const std::size_t len = (std::size_t{b[p + 2]} << 24) | (std::size_t{b[p + 3]} << 16) |
                                (std::size_t{b[p + 4]} << 8) | b[p + 5];
        if (len > b.size() - p - 6) __builtin_trap();
        p += 6 + len;
      }
    }
    closed = out.close;
  }
  if (ev.associations > 1) __builtin_trap();  // one association per connection
  return 0;
}
