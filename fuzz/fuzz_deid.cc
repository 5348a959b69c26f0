// libFuzzer target for the de-identifier: any bytes give a status, never a crash, a hang or a leak; an output is
// deterministic, has a zero preamble, and walks again with our own reader without a fatal issue.
#include <cstddef>
#include <cstdint>

#include "deid/rewrite.h"
#include "dicom/part10.h"
#include "dicom/walker.h"

namespace {
struct Nothing : dg::dicom::Visitor {
  void element(const dg::dicom::Element&, std::span<const std::uint8_t>) override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  dg::deid::Plan plan;
  plan.key.fill(0x42);
  plan.max_inflated = 8u << 20;
  plan.linkage = true;
  plan.options.retain_safe_private = (size & 1) != 0;
  plan.options.retain_long_modified_dates = (size & 2) != 0;
  plan.options.clean_descriptors = (size & 4) != 0;
  const dg::deid::Result r = dg::deid::deidentify(in, plan);
  const bool out = r.status == dg::deid::Status::written || r.status == dg::deid::Status::quarantined;
  if (out != !r.bytes.empty()) __builtin_trap();
  if (!out) return 0;
  for (std::size_t i = 0; i < 128; ++i)
    if (r.bytes[i] != 0) __builtin_trap();
  if (dg::deid::deidentify(in, plan).bytes != r.bytes) __builtin_trap();
  const auto meta = dg::dicom::part10::read_meta(r.bytes);
  if (meta.walk.fatal || !meta.transfer_syntax_usable()) __builtin_trap();
  if (!meta.transfer_syntax.deflated) {
    Nothing n;
    std::span<const std::uint8_t> ds(r.bytes.data() + meta.dataset_start, r.bytes.size() - meta.dataset_start);
    const auto w = dg::dicom::walk(ds, 0, {meta.transfer_syntax.explicit_vr, meta.transfer_syntax.big_endian}, n);
    if (w.fatal) __builtin_trap();
  }
  return 0;
}
