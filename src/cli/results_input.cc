#include "cli/results_input.h"

#include <cstdio>

#include "util/durable_write.h"

namespace dg::cli {

std::string load_results(const std::vector<std::string>& paths, report::Results& r) {
  if (std::string e = report::load(paths, r); !e.empty()) return e;
  if (r.empty())
    return "no dicomguard results in " + (paths.size() == 1 ? paths[0] : std::to_string(paths.size()) + " files") +
           " (" + std::to_string(r.skipped_lines) + (r.skipped_lines == 1 ? " line was" : " lines were") +
           " not dicomguard JSON Lines)";
  return {};
}

std::string write_output(const std::string& output, const std::string& text) {
  if (output.empty()) {
    // A full disk can fail the write inside fwrite, after which fflush has nothing left to report: check both.
    const bool written = std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
    return std::fflush(stdout) == 0 && written && !std::ferror(stdout) ? "" : "cannot write to standard output";
  }
  return util::write_durably(output, text);
}

}  // namespace dg::cli
