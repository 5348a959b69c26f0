#include "cli/output.h"

#include <unistd.h>

#include <cstdlib>

namespace dg::cli {

void OutputFlags::add_to(CLI::App& app) {
  app.add_flag("--json", json, "Write JSON Lines to stdout: one object per line, each with a \"type\"");
  app.add_option("--sarif", sarif, "Also write a SARIF 2.1.0 file (for code-scanning dashboards)");
  app.add_option("--color", color, "Colour in text output")->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_flag("-v,--verbose", verbose, "Text output: also list clean results, info findings and evidence");
}

static bool color_for(int fd, const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never" || std::getenv("NO_COLOR")) return false;
  const char* term = std::getenv("TERM");
  return ::isatty(fd) && !(term && std::string(term) == "dumb");
}

bool OutputFlags::color_on_stderr() const { return color_for(2, color); }

std::unique_ptr<MultiSink> OutputFlags::make_sinks() const {
  auto m = std::make_unique<MultiSink>();
  if (json)
    m->add(make_jsonl_sink(stdout));
  else
    m->add(make_text_sink(stdout, TextOptions{color_for(1, color), verbose}));
  if (!sarif.empty()) m->add(make_sarif_sink(sarif, kVersion));
  return m;
}

}  // namespace dg::cli
