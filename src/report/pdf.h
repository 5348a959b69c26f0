// Printing a report to PDF with headless Chromium (Debian's chromium), when it is installed.
#pragma once

#include <string>

namespace dg::report {

// The Chromium binary found in PATH (chromium, chromium-browser), or "".
std::string find_chromium();
// Prints `html_path` to `pdf_path`; returns "" or why it failed. No network: background networking is off and
// the page has no external resources.
std::string print_pdf(const std::string& chromium, const std::string& html_path, const std::string& pdf_path);

}  // namespace dg::report
