// libFuzzer target for the Part 10 walker and every file check: any bytes must give a verdict, never a crash,
// a hang or a leak.
#include <cstddef>
#include <cstdint>

#include "dicom/walker.h"
#include "files/analyze.h"

namespace {
struct Sink : dg::dicom::Visitor {
  std::uint64_t n = 0;
  void element(const dg::dicom::Element& e, std::span<const std::uint8_t> v) override { n += e.length + v.size(); }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  dg::files::AnalyzeOptions opt;
  opt.max_inflated = 8u << 20;
  auto r = dg::files::analyze_bytes(in, "fuzz", opt);
  if (r.verdict == dg::files::Verdict::error) __builtin_trap();  // only I/O gives "error"
  // The walker on its own, in every encoding, from the start of the input.
  for (dg::dicom::Encoding enc : {dg::dicom::Encoding{true, false}, dg::dicom::Encoding{false, false},
                                  dg::dicom::Encoding{true, true}}) {
    Sink s;
    auto w = dg::dicom::walk(in, 0, enc, s);
    if (w.end > size) __builtin_trap();
  }
  return 0;
}
