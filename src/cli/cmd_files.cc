// dicomguard files PATH...: triage Part 10 files for executable, active and malformed content.
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "cli/cmd_files.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/shard_flag.h"
#include "findings/tally.h"
#include "files/analyze.h"
#include "cli/per_file.h"

namespace dg::cli {


Action add_files(CLI::App& app) {
  auto* sub = app.add_subcommand("files", "Check DICOM Part 10 files for executable, active and malformed content");
  auto f = std::make_shared<FilesFlags>();
  sub->add_option("PATH", f->paths, "Files or folders (searched recursively)")->required();
  sub->add_option("-j,--jobs", f->jobs, "Files checked in parallel (default: all cores)")->check(CLI::Range(0, 1024));
  sub->add_option("--fail-on", f->fail_on, "Exit 1 when a finding has at least this severity (default: low)")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  sub->add_option("--progress", f->progress, "Progress line on stderr (auto: when stderr is a terminal)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  add_shard_option(*sub, f->shard,
                  "Check only part i of N (0 <= i < N) of the files, chosen by a hash of each file's path relative "
                  "to its PATH argument (as deid --shard), so N processes split a tree with no coordination; every "
                  "record carries \"shard\":\"i/N\" and 'report' merges the outputs");
  f->out.add_to(*sub);
  sub->footer("Verdicts: clean, suspicious, dangerous, malformed, not-dicom, error. "
              "Run 'dicomguard checks' for what each finding means.");

  return [f]() {
    auto sinks = f->out.make_sinks();
    stamp_shard(*sinks, f->shard);
    return run_files(*f, *sinks);
  };
}

int run_files(const FilesFlags& f, Sink& sinks) {
  Tally tally("files", "files");
  PerFile pf{"files", "error", "verdict", {}, {}, {}};
  pf.parallel.jobs = f.jobs;
  if (const auto shard = shard_flag(f.shard)) pf.shard = *shard;
  pf.parallel.progress = f.progress == "always" || (f.progress == "auto" && ::isatty(2));
  files::AnalyzeOptions ao;
  pf.job = [&ao](const std::string& p) { return files::to_record(p, files::analyze_file(p, ao)); };
  if (std::string err = run_per_file(f.paths, pf, sinks, tally); !err.empty()) {
    std::fprintf(stderr, "dicomguard files: %s\n", err.c_str());
    return kExitError;
  }
  if (tally.errors()) return kExitError;
  return tally.failed(*parse_severity(f.fail_on)) ? kExitFindings : kExitClean;
}

}  // namespace dg::cli
