// dicomguard deid --verify OUTDIR [--against INPUT]: the residual-PHI scan (the work is in src/deid/verify).
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/cmd_deid.h"
#include "cli/commands.h"
#include "deid/run.h"
#include "deid/verify.h"
#include "files/mapped_file.h"
#include "findings/tally.h"
#include "util/durable_write.h"
#include "util/runner.h"

namespace dg::cli {

namespace fs = std::filesystem;

int run_deid_verify(const VerifyFlags& f) {
  std::error_code ec;
  if (!fs::is_directory(f.outdir, ec) && !fs::is_regular_file(f.outdir, ec)) {
    std::fprintf(stderr, "dicomguard deid: --verify: %s is not a file or folder\n", f.outdir.c_str());
    return kExitError;
  }
  // What the inputs held, gathered first (values of at least 4 characters, UIDs and their roots).
  deid::Against against;
  if (!f.against.empty()) {
    util::ExpandResult in = util::expand_paths(f.against);
    if (!in.errors.empty()) {
      for (const auto& [p, m] : in.errors) std::fprintf(stderr, "dicomguard deid: --against %s: %s\n", p.c_str(), m.c_str());
      return kExitError;
    }
    for (const std::string& p : in.files) {
      files::MappedFile m;
      if (!m.open(p).empty()) {
        ++against.unreadable;
        continue;
      }
      deid::collect_against(m.bytes(), against);
    }
    if (against.files == 0) {
      std::fprintf(stderr, "dicomguard deid: --against: no DICOM file in %zu input file(s)\n", in.files.size());
      return kExitError;
    }
  }

  util::ExpandResult out = util::expand_paths({f.outdir});
  std::vector<std::string> paths;
  const std::string quarantine = std::string("/") + deid::kQuarantineDir + "/";
  for (std::string& p : out.files)
    if (p.find(util::kTempMark) == std::string::npos && p.find(quarantine) == std::string::npos)
      paths.push_back(std::move(p));

  auto sinks = f.out->make_sinks();
  Tally tally("deid-verify", "files");
  for (const auto& [path, msg] : out.errors) {
    Record r{"verify", "error", {{"path", path}, {"status", "error"}, {"error", msg}}, {}, {}, {}};
    tally.add(r);
    sinks->record(r);
  }
  util::ParallelOptions po;
  po.jobs = f.jobs;
  po.progress = ::isatty(2);
  util::parallel_ordered<Record>(
      paths.size(), po,
      [&](std::size_t i) {
        files::MappedFile m;
        Record r;
        if (std::string e = m.open(paths[i]); !e.empty()) {
          r = Record{"verify", "error", {{"path", paths[i]}, {"status", "error"}, {"error", e}}, {}, {}, {}};
        } else {
          r = deid::verify_file(paths[i], m.bytes(), f.against.empty() ? nullptr : &against);
        }
        sinks->prepare(r);
        return r;
      },
      [&](std::size_t, Record&& r) {
        tally.add(r);
        sinks->record(r);
      });
  nlohmann::json sum = tally.summary();
  if (!f.against.empty()) sum["against"] = {{"files", against.files}, {"values", against.needles.size()},
                                            {"uids", against.uids.size()}};
  if (std::string err = sinks->end(sum); !err.empty()) {
    std::fprintf(stderr, "dicomguard deid: %s\n", err.c_str());
    return kExitError;
  }
  if (tally.errors()) return kExitError;
  return tally.count("residual") || tally.count("not-dicom") ? kExitFindings : kExitClean;
}

}  // namespace dg::cli
