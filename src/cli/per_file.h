// The loop both file subcommands share: walk paths lazily, run a per-file job in parallel, send records to the
// sinks in sorted order and count them. Missing paths (first) and unreadable folders (where their files would
// sort) become error records.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "findings/tally.h"
#include "util/runner.h"
#include "util/shard.h"
#include "findings/sink.h"

namespace dg::cli {

struct PerFile {
  std::string command;                                   // "files", "sanitize": the summary's command
  std::string error_field;                               // "error" or "message": where an error record puts its text
  std::string status_field;                              // "verdict" or "action": an error record's status field
  util::ParallelOptions parallel;
  std::function<bool(const std::string&)> skip;          // optional: paths to leave out
  std::function<Record(const std::string&)> job;
  util::Shard shard;  // --shard i/N: only the files whose path relative to their PATH argument falls in shard i
};

// The key --shard hashes for a file: its path relative to the PATH argument it was found under (the longest
// that contains it), or its file name when the argument named the file itself. The same key as deid's --shard.
std::string shard_key(const std::string& path, const std::vector<std::string>& roots);

// Returns the sinks' end() error, or an empty string.
std::string run_per_file(const std::vector<std::string>& paths, const PerFile& pf, Sink& sinks, Tally& tally);

}  // namespace dg::cli
