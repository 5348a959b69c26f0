// The cells of the tables rfp and mds2 write: one escaping rule per format.
#pragma once

#include <string>
#include <vector>

#include "util/html_escape.h"

namespace dg::procure {

// RFC 4180: quoted when it holds a comma, a quote, a line break or leading/trailing space; quotes doubled.
std::string csv_field(const std::string& s);
std::string csv_row(const std::vector<std::string>& cells);  // with its CRLF
// A Markdown table cell: | and line breaks escaped, so that a cell is one cell.
std::string md_cell(const std::string& s);
std::string md_row(const std::vector<std::string>& cells);   // "| a | b |\n"
using util::html_escape;  // HTML: the one escaper (util/html_escape.h)

}  // namespace dg::procure
