// The de-identifier of one Part 10 file held in memory: PS3.15 Annex E actions applied at every sequence depth,
// the File Meta group rebuilt, the attributes of E.3 added, the transfer syntax kept (a deflated dataset is
// deflated again), the preamble zeroed. Pixel Data and other bulk values are copied through, never decoded.
// The output bytes depend only on the input bytes, the key and the plan: no clock, no randomness.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "deid/profile.h"
#include "deid/pseudonym.h"

namespace dg::deid {

enum class BurnedIn : std::uint8_t { quarantine, keep, fail };

struct Plan {
  Options options;
  Key key{};
  int date_shift_range = 3650;  // days; --retain-long-modified-dates shifts dates back by [0, range]
  BurnedIn burned_in = BurnedIn::quarantine;
  std::uint64_t max_inflated = std::uint64_t{1} << 31;  // a deflated dataset inflating to more is refused
  // Top-level values at least this long (Pixel Data ...) are not copied into Result::bytes but left as holes that
  // the writer of the file fills from the input (0: never). Only for uncompressed datasets.
  std::uint64_t bulk_min = 0;
  bool linkage = false;         // collect old -> new pairs of UIDs and Patient IDs (Result::linkage)
};

// What happened to the attributes of one file (every depth counted).
struct Counts {
  std::uint64_t removed = 0, emptied = 0, replaced = 0, cleaned = 0, kept = 0;
};

enum class Status : std::uint8_t { written, quarantined, refused, skipped, error };
const char* status_name(Status s);

struct Result {
  Status status = Status::error;
  std::string reason;               // structural, never a value from the file
  std::vector<std::uint8_t> bytes;  // the output file (written and quarantined), less its holes
  // Input bytes [offset, offset + length) of the file given to deidentify() go at position `at` of bytes (in
  // order; Plan::bulk_min). The output file is bytes with every hole filled.
  struct Hole {
    std::size_t at;
    std::uint64_t offset, length;
  };
  std::vector<Hole> holes;
  Counts counts;
  bool burned_in = false;           // quarantined (or refused with --burned-in fail) for burned-in annotation
  std::vector<std::pair<std::string, std::string>> linkage;  // (old, new) when Plan::linkage
};

// Burned In Annotation (0028,0301) YES, or absent in a modality that usually carries burned-in text (US, SC, XC,
// ES, OT, GM, DOC, IVUS, OP, SM, ECG): such instances are quarantined by deid and flagged by deid --verify.
bool burned_in_suspected(std::string_view modality, std::optional<std::string_view> burned_in_annotation);

// De-identifies one file's bytes. Status: written (bytes set), quarantined (bytes set: the de-identified file,
// whose pixels may still show burned-in text), refused (DICOMDIR, malformed, --burned-in fail), skipped (not
// DICOM). Never throws for any input.
Result deidentify(std::span<const std::uint8_t> file, const Plan& plan);

// The De-identification Method (0012,0063) values this plan writes: dicomguard and its version, the profile, the
// options, the date shift range when used, and a 32-bit keyed check of the key (so --resume can tell a file made
// with another key; it reveals nothing of the key).
std::vector<std::string> method_values(const Plan& plan);
// The CID 7050 codes the plan claims: 113100 and one per option ("113110", ...).
std::vector<std::pair<std::string, std::string>> method_codes(const Options& o);

inline constexpr const char* kImplementationVersion = "DICOMGUARD_010";
// 2.25. + the first 128 bits of SHA-256("dicomguard implementation"), as a decimal.
extern const char* const kImplementationClassUid;

}  // namespace dg::deid
