// dicomguard files PATH...: triage Part 10 files for executable, active and malformed content.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/summary.h"
#include "files/analyze.h"
#include "files/runner.h"

namespace dg::cli {

namespace {
struct FilesFlags {
  std::vector<std::string> paths;
  int jobs = 0;
  std::string fail_on = "low";
  std::string progress = "auto";
  OutputFlags out;
};
}  // namespace

Action add_files(CLI::App& app) {
  auto* sub = app.add_subcommand("files", "Check DICOM Part 10 files for executable, active and malformed content");
  auto f = std::make_shared<FilesFlags>();
  sub->add_option("PATH", f->paths, "Files or folders (searched recursively)")->required();
  sub->add_option("-j,--jobs", f->jobs, "Files checked in parallel (default: all cores)")->check(CLI::Range(0, 1024));
  sub->add_option("--fail-on", f->fail_on, "Exit 1 when a finding has at least this severity (default: low)")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  sub->add_option("--progress", f->progress, "Progress line on stderr (auto: when stderr is a terminal)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  f->out.add_to(*sub);
  sub->footer("Verdicts: clean, suspicious, dangerous, malformed, not-dicom, error. "
              "Run 'dicomguard checks' for what each finding means.");

  return [f]() {
    auto sinks = f->out.make_sinks();
    Tally tally("files", "files");
    files::ExpandResult ex = files::expand_paths(f->paths);
    for (const auto& [path, msg] : ex.errors) {
      Record r{"file", path, "error", {{"path", path}, {"verdict", "error"}, {"error", msg}}, {}};
      tally.add(r);
      sinks->record(r);
    }
    files::ParallelOptions po;
    po.jobs = f->jobs;
    po.progress = f->progress == "always" || (f->progress == "auto" && ::isatty(2));
    files::AnalyzeOptions ao;
    files::parallel_ordered<Record>(
        ex.files.size(), po,
        [&](std::size_t i) { return files::to_record(ex.files[i], files::analyze_file(ex.files[i], ao)); },
        [&](std::size_t, Record&& r) {
          tally.add(r);
          sinks->record(r);
        });
    if (std::string err = sinks->end(tally.summary()); !err.empty()) {
      std::fprintf(stderr, "dicomguard files: %s\n", err.c_str());
      return kExitError;
    }
    if (tally.errors()) return kExitError;
    return tally.failed(*parse_severity(f->fail_on)) ? kExitFindings : kExitClean;
  };
}

}  // namespace dg::cli
