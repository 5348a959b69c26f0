// The report: one self-contained HTML page (no scripts, no external resources; prints with the checklist alone on
// its first page) or the same content as Markdown. Only formats: every status comes from checklist() and
// technique_state(), every text about a check from the catalog.
#pragma once

#include <string>

#include "report/results.h"

namespace dg::report {

struct RenderOptions {
  std::string title = "DICOM security report";
  std::string generated;   // when, as text (UTC)
  bool show_paths = false; // list file paths (they may name patients: off by default)
  // A fix measured (report --before B.jsonl --after A.jsonl): the checklist of each, side by side, on page 1.
  const Results* before = nullptr;
  const Results* after = nullptr;
};


std::string render_html(const Results& r, const RenderOptions& o);
std::string render_markdown(const Results& r, const RenderOptions& o);
// The threat matrix alone, as text (a terminal table), Markdown or HTML.
std::string render_matrix(const Results& r, const std::string& format);

}  // namespace dg::report
