// What rfp, mds2 and explain share: loading the results they read, and writing their output.
#pragma once

#include <string>
#include <vector>

#include "report/results.h"

namespace dg::cli {

// report::load, and an error too when the files hold no dicomguard record at all (nothing but other lines).
std::string load_results(const std::vector<std::string>& paths, report::Results& r);
// `text` to `output` (util::write_durably) or to standard output when empty; an error message or "".
std::string write_output(const std::string& output, const std::string& text);

}  // namespace dg::cli
