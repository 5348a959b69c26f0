// Runs a per-file job over many paths: expands folders recursively, works in parallel, and hands results back
// in a stable order (sorted paths) so output is reproducible whatever -j is. For a lazy walk see util/walk.h.
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
// folders are not descended (no loops). The result is sorted. Holds every path: for huge trees use PathWalker
// with parallel_stream.
ExpandResult expand_paths(const std::vector<std::string>& paths);

struct ParallelOptions {
  int jobs = 0;             // 0: all cores
  bool progress = false;    // a progress line on stderr (for a TTY) once the run takes more than a second
  std::string progress_label = "files";
  std::size_t total = 0;    // items to come, for the progress line (0: unknown)
};

// Calls work(i) for i in [0, n) on `jobs` threads and deliver(i, result) on the calling thread in index order.
// At most a bounded window of results waits for delivery, so memory stays flat on huge runs.
template <typename R>
void parallel_ordered(std::size_t n, const ParallelOptions& opt, const std::function<R(std::size_t)>& work,
                      const std::function<void(std::size_t, R&&)>& deliver);

// The same over items pulled from next() (called under a lock, one item at a time, until it returns false):
// work(item) runs on `jobs` threads and deliver(result) on the calling thread in the order next() gave the items.
// Only a bounded window of items is in flight, so neither the items nor the results are ever all in memory.
template <typename T, typename R>
void parallel_stream(const ParallelOptions& opt, const std::function<bool(T&)>& next,
                     const std::function<R(T&)>& work, const std::function<void(R&&)>& deliver);

}  // namespace dg::util

#include "util/runner_impl.h"
