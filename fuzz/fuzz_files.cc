// libFuzzer target for the Part 10 walker and every file check: any bytes must give a verdict, never a crash,
// a hang or a leak. The walker is also run over the same bytes as a stream through a small window, and must
// agree with the walk of the bytes held whole (fuzz/fuzz_files.dict leads the fuzzer to the markers).
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "dicom/walker.h"
#include "files/analyze.h"

namespace {
struct Sink : dg::dicom::Visitor {
  std::uint64_t n = 0;
  void element(const dg::dicom::Element& e, std::span<const std::uint8_t> v) override { n += e.length + v.size(); }
};
struct Chunks : dg::dicom::ByteStream {
  std::span<const std::uint8_t> in;
  std::size_t pos = 0;
  explicit Chunks(std::span<const std::uint8_t> s) : in(s) {}
  std::size_t read(std::span<std::uint8_t> out) override {
    const std::size_t n = std::min({out.size(), in.size() - pos, std::size_t{509}});
    std::memcpy(out.data(), in.data() + pos, n);
    pos += n;
    return n;
  }
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
    Chunks c(in);
    dg::dicom::StreamWindow win(c, 4096);
    Sink t;
    auto ws = dg::dicom::walk(win, 0, enc, t);
    if (ws.end > size) __builtin_trap();
    if (!w.fatal && (ws.fatal || ws.elements != w.elements || ws.end != w.end || ws.issues.size() != w.issues.size()))
      __builtin_trap();  // the stream walk disagrees with the span walk
    if (w.fatal && !ws.fatal) __builtin_trap();
  }
  return 0;
}
