// `dicomguard files`'s flags, and the run they make: for the subcommand and for `demo`.
#pragma once

#include <string>
#include <vector>

#include "cli/output.h"
#include "findings/sink.h"

namespace dg::cli {

struct FilesFlags {
  std::vector<std::string> paths;
  int jobs = 0;
  std::string fail_on = "low";
  std::string progress = "auto";
  std::string shard;  // --shard i/N
  OutputFlags out;
};

// Checks the files and writes their records and the summary to `sinks`; returns the exit code.
int run_files(const FilesFlags& f, Sink& sinks);

}  // namespace dg::cli
