// dicomguard weblog LOG...: PHI in DICOMweb URLs of web-server logs; --redact writes a copy without it (the work is
// in src/weblog/).
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/output.h"
#include "deid/pseudonym.h"
#include "files/sanitize.h"
#include "findings/tally.h"
#include "weblog/dicomweb.h"
#include "weblog/scan.h"

namespace dg::cli {

namespace {
namespace fs = std::filesystem;

struct WeblogFlags {
  std::vector<std::string> logs;
  bool redact = false, in_place = false, no_backup = false, show_values = false, list_keys = false;
  std::string output, key_file, backup_dir;
  OutputFlags out;
};

int usage(const std::string& msg) {
  std::fprintf(stderr, "dicomguard weblog: %s\n", msg.c_str());
  return kExitError;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int run(WeblogFlags& f) {
  if (f.list_keys) {
    for (const auto& [tag, name] : weblog::phi_tags()) std::printf("%s %s\n", tag.c_str(), name.c_str());
    return kExitClean;
  }
  if (f.logs.empty()) return usage("no LOG given");
  if (!f.redact && (!f.output.empty() || f.in_place || !f.key_file.empty()))
    return usage("-o, --in-place and --key-file are for --redact");
  if (f.redact) {
    if (f.logs.size() != 1) return usage("--redact takes one LOG");
    if (f.in_place == !f.output.empty()) return usage("--redact needs -o OUT or --in-place (one of them)");
    if (f.in_place && f.logs[0] == "-") return usage("--in-place cannot rewrite stdin");
    if (!f.output.empty() && same_file(f.output, f.logs[0]))
      return usage("-o is the log itself: use --in-place (it keeps the original as a backup)");
  } else if (f.no_backup || !f.backup_dir.empty()) {
    return usage("--no-backup and --backup-dir are for --redact --in-place");
  }
  deid::Key key{};
  weblog::ScanOptions opt;
  opt.show_values = f.show_values;
  if (!f.key_file.empty()) {
    std::string warning;
    if (std::string e = deid::load_key(f.key_file, key, warning); !e.empty()) return usage(e);
    if (!warning.empty()) std::fprintf(stderr, "dicomguard weblog: warning: %s\n", warning.c_str());
    opt.key = &key;
  }
  auto sinks = f.out.make_sinks();
  Tally tally("weblog", "logs");
  for (const std::string& log : f.logs) {
    Record r;
    if (f.redact) {
      weblog::RedactOptions ro;
      ro.in_place = f.in_place;
      ro.output = f.in_place ? log : f.output;
      if (f.in_place && !f.no_backup) {
        const fs::path dir = f.backup_dir.empty() ? fs::path(log).parent_path() / ".dicomguard-backup"
                                                  : fs::path(f.backup_dir);
        util::KeepIn k;
        k.dir = dir.string();
        k.marker = files::kKeptMarker;
        k.marker_text = "This folder holds files kept by dicomguard (originals of rewritten files).\n";
        k.what = "backup";
        k.verb = "backup";
        ro.keep = k;
      }
      r = weblog::scan_log(log, opt, &ro);
    } else {
      r = weblog::scan_log(log, opt);
    }
    tally.add(r);
    sinks->record(r);
  }
  if (std::string err = sinks->end(tally.summary()); !err.empty()) {
    std::fprintf(stderr, "dicomguard weblog: %s\n", err.c_str());
    return kExitError;
  }
  if (tally.errors()) return kExitError;
  // Redacting: the copy was written, so the run did what was asked (the findings describe the input).
  if (f.redact) return kExitClean;
  return tally.count("phi") ? kExitFindings : kExitClean;
}

}  // namespace

Action add_weblog(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "weblog", "Find PHI in DICOMweb URLs of web-server logs (nginx, Apache, HAProxy, Squid, Orthanc, JSON); --redact");
  auto f = std::make_shared<WeblogFlags>();
  sub->add_option("LOG", f->logs, "Log files (plain or gzip), or - for stdin");
  sub->add_flag("--redact", f->redact, "Write a copy with every PHI value replaced (needs -o OUT or --in-place)");
  sub->add_option("-o,--output", f->output, "--redact: the copy's path (written atomically)");
  sub->add_flag("--in-place", f->in_place, "--redact: replace the log itself, keeping the original as a backup");
  sub->add_option("--backup-dir", f->backup_dir, "--in-place: where the original is kept (default: .dicomguard-backup next to it)");
  sub->add_flag("--no-backup", f->no_backup, "--in-place: do not keep the original");
  sub->add_option("--key-file", f->key_file,
                  "--redact: 32-byte key (as for deid): values become keyed pseudonyms instead of REDACTED (never printed)");
  sub->add_flag("--show-values", f->show_values, "List the PHI values found (at most 100 per log): prints patient data");
  sub->add_flag("--list-keys", f->list_keys, "Print the PHI-bearing keys looked for (ggggeeee KEYWORD, one a line) and exit");
  f->out.add_to(*sub);
  sub->footer("Exit 0 when no log has PHI in a DICOMweb URL (or --redact wrote its copy), 1 when one has, "
              "2 on a usage or read error.");
  return [f]() { return run(*f); };
}

}  // namespace dg::cli
