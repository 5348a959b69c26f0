// Reading export files (plain or gzip; JSON Lines, or one JSON document such as a pretty-printed Censys host or
// an array) into one entry per endpoint seen, and the record each entry becomes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "findings/finding.h"
#include "shodan/classify.h"
#include "shodan/observation.h"

namespace dg::shodan {

// One endpoint as the exports saw it: the latest observation, and when it was seen first and last.
struct Entry {
  Observation latest;
  Verdict verdict;
  std::string first_seen, last_seen;
  std::uint64_t observations = 0;
};

struct Collected {
  std::map<std::string, Entry> dicom;     // by "source|address|port", DICOM endpoints only
  std::uint64_t banners = 0;              // observations read (DICOM or not)
  std::uint64_t not_dicom = 0;            // observations that were not DICOM
  std::uint64_t malformed = 0;            // lines (or documents) skipped: not JSON, or not a known record
  std::vector<std::string> errors;        // files that could not be read (or were cut short), one line each
  std::vector<std::string> skipped;       // "FILE:LINE: why" for the first few malformed lines of each file
};

// Reads one export file ("-" is stdin) into `c`.
void collect_file(const std::string& path, Collected& c);
// Adds one JSON document's observations (what collect_file does per line); false when it was malformed.
bool collect_document(std::string_view text, Collected& c, std::string& why);

Record make_record(const Entry& e);

}  // namespace dg::shodan
