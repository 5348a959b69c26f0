// libFuzzer target for what a search engine export holds (a hostile or broken Shodan/Censys file): one JSON
// document parsed as a Shodan banner or a Censys host, every observation classified (an A-ASSOCIATE-AC/RJ inside
// a banner parsed) and turned into its record; and the whole input read as an export file (JSON Lines or one
// document, through the gzip-or-plain reader).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "findings/sink.h"
#include "shodan/collect.h"
#include "shodan/parse.h"

using namespace dg::shodan;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Parsed p = parse_document(text);
  for (const Observation& o : p.observations) {
    Entry e;
    e.latest = o;
    e.verdict = classify(o);
    e.first_seen = e.last_seen = o.seen;
    e.observations = 1;
    if (e.verdict.dicom) (void)dg::jsonl_record_line(make_record(e));
  }
  (void)normalize_time(text.substr(0, 40));
  // The same bytes as a file: lines, a document across lines, gzip when they start with its magic.
  char path[] = "/tmp/fuzz_shodan.XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return 0;
  const bool ok = ::write(fd, data, size) == static_cast<ssize_t>(size);
  ::close(fd);
  if (ok) {
    Collected c;
    collect_file(path, c);
    for (const auto& [k, e] : c.dicom) (void)dg::jsonl_record_line(make_record(e));
  }
  ::unlink(path);
  return 0;
}
