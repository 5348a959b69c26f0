// libFuzzer target for dicomguard weblog's parsers of untrusted log bytes: the line formats, the query parser, the
// statistics of a log, and the streaming redactor, which must give the same bytes whatever the pieces it is fed
// and change nothing outside a PHI value. The first byte picks the piece size.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>

#include "weblog/dicomweb.h"
#include "weblog/formats.h"
#include "weblog/redact.h"
#include "weblog/scan.h"

using namespace dg::weblog;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = 1 + data[0] % 97;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  ScanOptions opt;
  opt.show_values = data[0] & 1;
  LogStats st(opt);
  std::uint64_t n = 0;
  std::size_t start = 0;
  std::string whole, pieces;
  Redactor a(nullptr, &whole), b(nullptr, &pieces);
  while (start <= in.size()) {
    std::size_t nl = in.find('\n', start);
    if (nl == std::string_view::npos) nl = in.size();
    const std::string_view line = in.substr(start, nl - start);
    Parsed p;
    if (parse_line(line, data[0] & 2, p)) (void)is_dicomweb_path(p.target);
    (void)st.line(line, false, ++n);
    a.feed(line);
    a.end_line();
    for (std::size_t i = 0; i < line.size(); i += piece) b.feed(line.substr(i, piece));
    b.end_line();
    for_each_param(line, [](std::string_view k, std::string_view, bool) {
      std::string d;
      url_decode(k, d, kMaxKey);
      (void)phi_key(d);
    });
    start = nl + 1;
  }
  if (whole != pieces) std::abort();
  // Without PHI keys the redactor is the identity.
  if (a.values_redacted() == 0) {
    std::string same(in);
    std::erase(same, '\n');
    if (whole != same) std::abort();
  }
  dg::Record r;
  st.fill(r, "fuzz.log");
  return 0;
}
