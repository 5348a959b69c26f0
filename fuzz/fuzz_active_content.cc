// libFuzzer target: the active-content scanners must neither crash, nor hang, nor return inconsistent results
// on any bytes.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "files/active_content.h"

namespace {

void check(const dg::files::ActiveContent& r) {
  for (const auto& [marker, count] : r.counts)
    if (count == 0 || marker.empty()) std::abort();
  const std::string_view t = r.content_type;
  if (t != "application/pdf" && t != "text/xml" && t != "model/stl" && t != "model/obj" && t != "model/mtl" &&
      t != "unknown")
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  // Small limits keep each execution fast while still exercising the limit paths.
  dg::files::ActiveContentLimits lim;
  lim.max_inflated_per_stream = 1u << 20;
  lim.max_inflated_total = 4u << 20;
  lim.max_streams = 64;

  const dg::files::ActiveContent doc = dg::files::scan_document(bytes, lim);
  check(doc);
  if (doc.content_type != dg::files::sniff_content_type(bytes)) std::abort();
  // Exercise both scanners whatever the sniffed type is.
  check(dg::files::scan_pdf(bytes, lim));
  check(dg::files::scan_xml(bytes));
  (void)dg::files::mime_matches("application/hl7-cda+xml", bytes);
  (void)dg::files::mime_matches("model/stl", bytes);
  return 0;
}
