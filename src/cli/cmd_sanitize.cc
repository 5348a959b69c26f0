// dicomguard sanitize PATH...: zero dangerous or non-zero preambles losslessly.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "cli/output.h"
#include "findings/tally.h"
#include "cli/per_file.h"
#include "files/sanitize.h"
#include "util/durable_write.h"

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
    // Never touch our own backups, quarantine or temporary files, wherever those folders are.
    namespace fs = std::filesystem;
    std::vector<std::string> own;
    for (const std::string& d : {f->opt.backup_dir, f->opt.quarantine_dir}) {
      std::error_code ec;
      if (!d.empty()) own.push_back(fs::weakly_canonical(d, ec).string() + "/");
    }
    std::map<std::string, bool> kept_dir;  // folder -> holds the kept-files marker
    PerFile pf{"sanitize", "message", "action", {}, {}, {}};
    pf.parallel.jobs = f->jobs;
    pf.parallel.progress = ::isatty(2);
    pf.skip = [&](const std::string& p) {
      if (p.find("/.dicomguard-backup/") != std::string::npos || p.find(util::kTempMark) != std::string::npos)
        return true;
      const fs::path parent = fs::path(p).parent_path();
      auto [it, fresh] = kept_dir.try_emplace(parent.string(), false);
      if (fresh) {
        std::error_code ec;
        it->second = fs::exists(parent / files::kKeptMarker, ec);
      }
      if (it->second) return true;
      std::error_code ec;
      const std::string canon = fs::weakly_canonical(fs::absolute(p, ec), ec).string();
      for (const std::string& o : own)
        if (canon.compare(0, o.size(), o) == 0) return true;
      return false;
    };
    pf.job = [f](const std::string& p) { return files::sanitize_file(p, f->opt); };
    if (std::string err = run_per_file(f->paths, pf, *sinks, tally); !err.empty()) {
      std::fprintf(stderr, "dicomguard sanitize: %s\n", err.c_str());
      return kExitError;
    }
    return (tally.errors() || tally.count("refused")) ? kExitError : kExitClean;
  };
}

}  // namespace dg::cli
