// One input file de-identified into the output tree: read, de-identified (rewrite.h), written atomically under
// OUTDIR (or OUTDIR/.quarantine), and described by a Record of type "deid" (docs/json-lines.md) that holds paths,
// a status, counts and options, never a value from the file.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "deid/rewrite.h"
#include "findings/finding.h"

namespace dg::deid {

inline constexpr const char* kQuarantineDir = ".quarantine";

struct FilePlan {
  Plan plan;
  std::string outdir;
  bool rename = false;  // output name: keyed hash of the relative path
  bool resume = false;  // skip outputs already complete from a run with the same key and options
  bool defer_dir_sync = false;  // folders are fsync'ed by the caller at the end (sync_output_folders)
};

// Where `rel` (the input's path relative to its input root) goes: OUTDIR/rel, or OUTDIR/<32 hex>.dcm with rename.
std::string output_relative(const FilePlan& fp, const std::string& rel);
// Which of n shards a relative path belongs to (SHA-256 of the path, so every machine agrees without the key).
unsigned shard_of(const std::string& rel, unsigned n);

// The record's "counts" object.
nlohmann::json counts_json(const Counts& c);

// fsyncs the folders of these outputs and every folder above them up to and including OUTDIR's parent (new
// folders included), once each. Returns "" or the first failure.
std::string sync_output_folders(const std::vector<std::string>& outputs, const std::string& outdir);

// De-identifies `input` into the tree. `linkage`, when given, receives (old, new) pairs.
Record deid_file(const std::string& input, const std::string& rel, const FilePlan& fp,
                 std::vector<std::pair<std::string, std::string>>* linkage = nullptr);

}  // namespace dg::deid
