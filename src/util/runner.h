// Runs a per-file job over many paths: expands folders recursively, works in parallel, and hands results back
// in a stable order (sorted paths) so output is reproducible whatever -j is.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dg::util {

struct ExpandResult {
  std::vector<std::string> files;
  std::vector<std::pair<std::string, std::string>> errors;  // path, message (unreadable folder, missing path)
};
// Regular files under each path (a file is taken as is). Symbolic links to files are followed; links to
// folders are not descended (no loops). The result is sorted.
ExpandResult expand_paths(const std::vector<std::string>& paths);

struct ParallelOptions {
  int jobs = 0;             // 0: all cores
  bool progress = false;    // a progress line on stderr (for a TTY) once the run takes more than a second
  std::string progress_label = "files";
};

// Calls work(i) for i in [0, n) on `jobs` threads and deliver(i, result) on the calling thread in index order.
// At most a bounded window of results waits for delivery, so memory stays flat on huge runs.
template <typename R>
void parallel_ordered(std::size_t n, const ParallelOptions& opt, const std::function<R(std::size_t)>& work,
                      const std::function<void(std::size_t, R&&)>& deliver);

}  // namespace dg::util

#include "util/runner_impl.h"
