// One pass over one log: counts requests, DICOMweb requests and those whose URL or referer carries PHI-bearing
// query keys (never their values unless asked), and, when redacting, writes the copy with every such value
// replaced (redact.h), every other byte as it was. Lines of any length: the first kParseCap bytes of a line are
// parsed for the report; the redactor sees every byte.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "deid/pseudonym.h"
#include "findings/finding.h"
#include "util/durable_write.h"
#include "weblog/formats.h"

namespace dg::weblog {

inline constexpr std::size_t kParseCap = 1 << 20;   // bytes of a line parsed for the report
inline constexpr std::size_t kBlock = 4 << 20;      // read block
inline constexpr std::size_t kMaxListed = 100;      // line numbers, clients and values listed per log

struct ScanOptions {
  bool show_values = false;          // list values (bounded) in the record: only when asked
  const deid::Key* key = nullptr;    // pseudonyms instead of REDACTED
  std::size_t parse_cap = kParseCap;  // tests lower it to reach the long-line path with small inputs
  std::size_t block = kBlock;
};

struct RedactOptions {
  std::string output;                 // the copy's path (the log itself with --in-place)
  std::optional<util::KeepIn> keep;   // --in-place: keep the original here first
  bool in_place = false;
};

// Scans `path` ("-": stdin). With redact, also writes the copy durably (util::write_durably). The record is of
// type "weblog" (docs/json-lines.md) with findings web.phi-in-url and web.phi-in-referer.
Record scan_log(const std::string& path, const ScanOptions& opt, const RedactOptions* redact = nullptr);

// What the redactor does with a line.
enum class Scope : std::uint8_t {
  none,          // copied as it is
  url,           // the request or the referer is a DICOMweb URL: every query value of a PHI key
  orthanc_args,  // Orthanc's "Arguments of QIDO-RS request: [KEY=VALUE] ...": also the bracketed ones
  orthanc_body,  // a line of Orthanc's body of a QIDO-RS call: "gggg,eeee" : "VALUE" members
};

// The scanning state of one log, fed line by line (public for the unit tests and the fuzzer).
class LogStats {
 public:
  explicit LogStats(const ScanOptions& opt) : opt_(opt) {}
  // One line (its first parse_cap bytes when truncated): what the redactor does with it.
  Scope line(std::string_view text, bool truncated, std::uint64_t lineno);
  // For a truncated line in scope: the PHI keys the redactor found in the whole line.
  void long_line_keys(const std::vector<std::string>& keys, std::uint64_t lineno);
  void fill(Record& r, const std::string& path) const;
  std::uint64_t phi_requests() const { return phi_requests_; }
  std::uint64_t lines() const { return lines_; }

 private:
  struct Hits {
    std::vector<std::string> keys;
    std::vector<std::pair<std::string, std::string>> values;
  };
  void query_keys(std::string_view target, Hits& h) const;
  void param(std::string_view k, std::string_view v, Hits& h) const;
  Scope phi(Hits& url, Hits& ref, std::uint64_t lineno, Scope scope);
  void count(const Hits& h, std::map<std::string, std::uint64_t>& keys, std::set<std::uint64_t>& lines_list,
             std::uint64_t& n, std::uint64_t lineno);

  ScanOptions opt_;
  Parsed p_;
  std::uint64_t lines_ = 0, requests_ = 0, dicomweb_ = 0, phi_requests_ = 0, url_requests_ = 0,
                referer_requests_ = 0, long_lines_ = 0, unparsed_ = 0;
  std::uint64_t by_format_[kFormats] = {};
  std::map<std::string, std::uint64_t> url_keys_, referer_keys_;
  std::set<std::uint64_t> url_lines_, referer_lines_, phi_lines_;
  std::set<std::string> clients_;
  std::uint64_t clients_dropped_ = 0;
  std::string first_time_, last_time_;
  std::vector<nlohmann::json> values_;
  std::uint64_t last_phi_line_ = 0;
  bool orthanc_body_ = false;  // inside Orthanc's multi-line body of a QIDO-RS call
};

}  // namespace dg::weblog
