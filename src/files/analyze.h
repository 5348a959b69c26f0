// Part 10 file triage: preamble, File Meta group, dataset structure, executable and active content.
// Runs every file check over one file and returns its verdict with findings; never prints, never throws for
// bad input, and never puts a value from the file (patient data) into its output.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "files/exec_signature.h"
#include "findings/finding.h"

namespace dg::files {

enum class Verdict { clean, suspicious, dangerous, malformed, not_dicom, error };
const char* verdict_name(Verdict v);

struct AnalyzeOptions {
  std::uint64_t full_scan_budget = 64u << 20;  // bytes of element values searched in full, per file
  std::uint64_t head_scan = 64u << 10;         // bytes searched at the start of a value once the budget is spent
  std::uint64_t max_inflated = 256u << 20;      // bytes of a deflated dataset inflated at most (CPU bound; memory
                                                // is bounded by the stream window whatever this is)
  std::size_t stream_window = 8u << 20;         // bytes of an inflated dataset held at once
  std::size_t max_structure_findings = 20;     // further structure problems are counted, not listed
};

enum class PreambleKind { absent, zero, tiff, bigtiff, executable, archive, document, sparse, nonzero };
const char* preamble_kind_name(PreambleKind k);

struct PreambleInfo {
  PreambleKind kind = PreambleKind::absent;
  int nonzero_bytes = 0;
  std::optional<ExecMatch> exec;  // for executable/archive
  std::optional<DocumentKind> document;
  // bash runs the file as a script (no NUL before the first line break in its first 80 bytes), so any later line
  // of the file, text of its attributes included, would be a command.
  bool shell_runs = false;
};
// Classifies the first 128 bytes; `file` is the whole file so header pointers can be checked.
PreambleInfo classify_preamble(std::span<const std::uint8_t> file);

struct FileReport {
  Verdict verdict = Verdict::clean;
  std::vector<Finding> findings;
  nlohmann::json fields = nlohmann::json::object();
  PreambleInfo preamble;
  bool part10 = false;         // "DICM" at offset 128
  bool parseable = false;      // meta and dataset walked to the end (trailing data aside)
  bool has_payload = false;    // a file.payload.executable finding
  std::string error;           // I/O error text for Verdict::error
};

FileReport analyze_bytes(std::span<const std::uint8_t> file, const std::string& target,
                         const AnalyzeOptions& opt = {});
FileReport analyze_file(const std::string& path, const AnalyzeOptions& opt = {});

// The record a sink prints for one file.
Record to_record(const std::string& path, FileReport&& r);

}  // namespace dg::files
