// dicomguard sanitize PATH...: zero dangerous or non-zero preambles losslessly.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/summary.h"
#include "files/runner.h"
#include "files/sanitize.h"

namespace dg::cli {

namespace {
struct SanitizeFlags {
  std::vector<std::string> paths;
  files::SanitizeOptions opt;
  bool no_backup = false;
  int jobs = 0;
  OutputFlags out;
};
}  // namespace

Action add_sanitize(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "sanitize", "Replace executable or non-zero preambles with zeros, changing bytes 0-127 only (keeps a backup)");
  auto f = std::make_shared<SanitizeFlags>();
  sub->add_option("PATH", f->paths, "Files or folders (searched recursively)")->required();
  sub->add_flag("--keep-tiff", f->opt.keep_tiff, "Keep a TIFF/BigTIFF preamble (dual TIFF/DICOM files)");
  sub->add_option("--backup-dir", f->opt.backup_dir,
                  "Where originals are kept (default: .dicomguard-backup in each file's folder)");
  auto* nb = sub->add_flag("--no-backup", f->no_backup, "Do not keep the original (the rewrite is still verified)");
  sub->get_option("--backup-dir")->excludes(nb);
  sub->add_flag("-n,--dry-run", f->opt.dry_run, "Report what would be done; change nothing");
  sub->add_flag("--force", f->opt.force, "Rewrite the preamble even when the dataset does not parse");
  sub->add_option("--quarantine", f->opt.quarantine_dir,
                  "Move files with executable payloads (file.payload.executable) into this folder instead");
  sub->add_option("-j,--jobs", f->jobs, "Files handled in parallel (default: all cores)")->check(CLI::Range(0, 1024));
  f->out.add_to(*sub);
  sub->footer("Actions: rewritten, unchanged, quarantined, would-rewrite, would-quarantine, refused, error. "
              "Exit 0 when every file was handled, 2 when one was refused or failed.");

  return [f]() {
    f->opt.backup = !f->no_backup;
    auto sinks = f->out.make_sinks();
    Tally tally("sanitize", "files");
    files::ExpandResult ex = files::expand_paths(f->paths);
    for (const auto& [path, msg] : ex.errors) {
      Record r{"sanitize", path, "error", {{"path", path}, {"action", "error"}, {"message", msg}}, {}};
      tally.add(r);
      sinks->record(r);
    }
    // Never touch our own backups, quarantine or temporary files, wherever those folders are.
    namespace fs = std::filesystem;
    std::vector<std::string> own;
    for (const std::string& d : {f->opt.backup_dir, f->opt.quarantine_dir}) {
      std::error_code ec;
      if (!d.empty()) own.push_back(fs::weakly_canonical(d, ec).string() + "/");
    }
    std::vector<std::string> todo;
    std::map<std::string, bool> kept_dir;  // folder -> holds the kept-files marker
    for (auto& p : ex.files) {
      if (p.find("/.dicomguard-backup/") != std::string::npos || p.find(".dicomguard-tmp-") != std::string::npos)
        continue;
      const fs::path parent = fs::path(p).parent_path();
      auto [it, fresh] = kept_dir.try_emplace(parent.string(), false);
      if (fresh) {
        std::error_code ec;
        it->second = fs::exists(parent / files::kKeptMarker, ec);
      }
      if (it->second) continue;
      std::error_code ec;
      const std::string canon = fs::weakly_canonical(fs::absolute(p, ec), ec).string();
      bool skip = false;
      for (const std::string& o : own) skip |= canon.compare(0, o.size(), o) == 0;
      if (!skip) todo.push_back(std::move(p));
    }
    int refused = 0;
    files::ParallelOptions po;
    po.jobs = f->jobs;
    po.progress = ::isatty(2);
    files::parallel_ordered<Record>(
        todo.size(), po, [&](std::size_t i) { return files::sanitize_file(todo[i], f->opt); },
        [&](std::size_t, Record&& r) {
          refused += r.status == "refused";
          tally.add(r);
          sinks->record(r);
        });
    if (std::string err = sinks->end(tally.summary()); !err.empty()) {
      std::fprintf(stderr, "dicomguard sanitize: %s\n", err.c_str());
      return kExitError;
    }
    return (tally.errors() || refused) ? kExitError : kExitClean;
  };
}

}  // namespace dg::cli
