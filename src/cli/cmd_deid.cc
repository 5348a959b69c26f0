// dicomguard deid INPUT... -o OUTDIR --key-file KEY: PS3.15 Annex E de-identification (the work is in src/deid/).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "cli/cmd_deid.h"
#include "cli/commands.h"
#include "util/shard.h"
#include "cli/output.h"
#include "cli/shard_flag.h"
#include "deid/run.h"
#include "findings/tally.h"
#include "util/durable_write.h"
#include "util/runner.h"

namespace dg::cli {

namespace {

namespace fs = std::filesystem;

struct DeidFlags {
  std::vector<std::string> inputs;
  std::string outdir, key_file, new_key, linkage, shard, burned_in = "quarantine";
  std::string verify;                // --verify OUTDIR
  std::vector<std::string> against;  // --against INPUT
  deid::Options opt;
  int date_shift_range = 3650;
  bool rename = false, resume = false;
  int jobs = 0;
  OutputFlags out;
};

int usage(const std::string& msg) {
  std::fprintf(stderr, "dicomguard deid: %s\n", msg.c_str());
  return kExitError;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string canonical(const std::string& p) {
  std::error_code ec;
  return fs::weakly_canonical(fs::absolute(p, ec), ec).string();
}

bool inside(const std::string& path, const std::string& dir) {
  return path == dir || path.compare(0, dir.size() + 1, dir + "/") == 0;
}

int run(DeidFlags& f) {
  if (!f.verify.empty()) {
    if (!f.inputs.empty() || !f.outdir.empty() || !f.key_file.empty() || !f.new_key.empty())
      return usage("--verify OUTDIR takes no INPUT, -o, --key-file or --new-key (use --against INPUT)");
    return run_deid_verify({f.verify, f.against, f.jobs, &f.out});
  }
  if (!f.against.empty()) return usage("--against is for --verify");
  if (!f.new_key.empty()) {
    if (std::string e = deid::new_key(f.new_key); !e.empty()) return usage(e);
    std::fprintf(stderr, "dicomguard deid: wrote a new 32-byte key to %s (mode 0600); keep it secret\n",
                 f.new_key.c_str());
    if (f.inputs.empty()) return kExitClean;
    if (f.key_file.empty()) f.key_file = f.new_key;
  }
  if (f.inputs.empty()) return usage("no INPUT given");
  if (f.outdir.empty()) return usage("-o OUTDIR is required");
  if (f.key_file.empty()) return usage("--key-file KEY is required (make one with --new-key KEY)");
  if (f.opt.retain_long_full_dates && f.opt.retain_long_modified_dates)
    return usage("--retain-long-full-dates and --retain-long-modified-dates exclude each other");
  if (f.date_shift_range < 0) return usage("--date-shift-range must be 0 or more");
  unsigned shard_i = 0, shard_n = 1;
  if (const auto s = shard_flag(f.shard)) {
    shard_i = s->index;
    shard_n = s->count;
  }
  deid::FilePlan fp;
  fp.plan.options = f.opt;
  fp.plan.date_shift_range = f.date_shift_range;
  fp.plan.burned_in = f.burned_in == "keep" ? deid::BurnedIn::keep
                      : f.burned_in == "fail" ? deid::BurnedIn::fail
                                              : deid::BurnedIn::quarantine;
  std::string warning;
  if (std::string e = deid::load_key(f.key_file, fp.plan.key, warning); !e.empty()) return usage(e);
  if (!warning.empty()) std::fprintf(stderr, "dicomguard deid: warning: %s\n", warning.c_str());
  fp.outdir = f.outdir;
  fp.rename = f.rename;
  fp.resume = f.resume;
  fp.defer_dir_sync = true;  // one fsync per output folder at the end, not one per file

  // Inputs, each file with its path relative to its input root.
  const std::string out_canon = canonical(f.outdir);
  struct Job {
    std::string path, rel;
  };
  std::vector<Job> jobs;
  std::vector<std::pair<std::string, std::string>> errors;
  std::set<std::string> rels;
  for (const std::string& in : f.inputs) {
    const std::string in_canon = canonical(in);
    std::error_code ec;
    const bool is_dir = fs::is_directory(in, ec);
    if (is_dir && inside(out_canon, in_canon))
      return usage("the output folder " + f.outdir + " is inside the input folder " + in + ": choose another");
    if (inside(in_canon, out_canon)) return usage("the input " + in + " is inside the output folder " + f.outdir);
    util::ExpandResult ex = util::expand_paths({in});
    for (auto& e : ex.errors) errors.push_back(std::move(e));
    for (std::string& p : ex.files) {
      if (p.find(util::kTempMark) != std::string::npos) continue;
      std::string rel = is_dir ? fs::path(p).lexically_relative(in).string() : fs::path(p).filename().string();
      if (deid::shard_of(rel, shard_n) != shard_i) continue;
      if (!rels.insert(rel).second) {
        errors.emplace_back(p, "another input has the same relative path " + rel + ": not written twice");
        continue;
      }
      jobs.push_back({std::move(p), std::move(rel)});
    }
  }

  auto sinks = f.out.make_sinks();
  Tally tally("deid", "files");
  for (const auto& [path, msg] : errors) {
    Record r{"deid", "error", {{"input", path}, {"status", "error"}, {"reason", msg}}, {}, {}, {}};
    r.fields["options"] = deid::option_names(f.opt);
    r.fields["counts"] = deid::counts_json({});
    tally.add(r);
    sinks->record(r);
  }
  struct Done {
    Record rec;
    std::vector<std::pair<std::string, std::string>> linkage;
  };
  const bool want_linkage = !f.linkage.empty();
  std::set<std::pair<std::string, std::string>> linkage;
  std::vector<std::string> written;
  util::ParallelOptions po;
  po.jobs = f.jobs;
  po.progress = ::isatty(2);
  util::parallel_ordered<Done>(
      jobs.size(), po,
      [&](std::size_t i) {
        Done d;
        d.rec = deid::deid_file(jobs[i].path, jobs[i].rel, fp, want_linkage ? &d.linkage : nullptr);
        sinks->prepare(d.rec);
        return d;
      },
      [&](std::size_t, Done&& d) {
        if (d.rec.fields.contains("output") && d.rec.fields["output"].is_string())
          written.push_back(d.rec.fields["output"].get<std::string>());
        else if (d.rec.fields.contains("output_bytes"))
          written.push_back(f.outdir + "/.");  // a name that is not UTF-8: at least its tree's top
        tally.add(d.rec);
        sinks->record(d.rec);
        for (auto& l : d.linkage) linkage.insert(std::move(l));
      });
  int rc = kExitClean;
  if (std::string e = deid::sync_output_folders(written, f.outdir); !e.empty()) {
    std::fprintf(stderr, "dicomguard deid: %s\n", e.c_str());
    rc = kExitError;
  }
  if (want_linkage) {
    std::string csv = "id_old,id_new\n";
    for (const auto& [a, b] : linkage) csv += csv_field(a) + "," + csv_field(b) + "\n";
    util::WriteOptions wo;
    wo.mode = 0600;
    wo.write = [&](int fd) -> std::string {
      return util::write_all(fd, csv.data(), csv.size()) ? "" : "cannot write the linkage file";
    };
    if (auto wr = util::write_durably(f.linkage, wo); !wr.ok()) {
      std::fprintf(stderr, "dicomguard deid: %s\n", wr.error.c_str());
      rc = kExitError;
    }
  }
  if (std::string err = sinks->end(tally.summary()); !err.empty()) {
    std::fprintf(stderr, "dicomguard deid: %s\n", err.c_str());
    return kExitError;
  }
  if (rc != kExitClean || tally.errors()) return kExitError;
  return (tally.count("quarantined") || tally.count("refused")) ? kExitFindings : kExitClean;
}

}  // namespace

Action add_deid(CLI::App& app) {
  auto* sub = app.add_subcommand("deid", "De-identify DICOM files per PS3.15 Annex E (keyed, identical across machines)");
  auto f = std::make_shared<DeidFlags>();
  sub->add_option("INPUT", f->inputs, "Files or folders (searched recursively); never modified");
  sub->add_option("-o,--output", f->outdir, "Output folder: the input tree's relative paths are kept");
  sub->add_option("--key-file", f->key_file, "The 32-byte key of the pseudonyms (never printed or logged)");
  sub->add_option("--new-key", f->new_key, "Write a fresh random 32-byte key to this new file (mode 0600)");
  sub->add_option("-j,--jobs", f->jobs, "Files handled in parallel (default: all cores)")->check(CLI::Range(0, 1024));
  sub->add_flag("--rename", f->rename, "Name outputs by a keyed hash of their relative path (OUTDIR/HEX.dcm)");
  sub->add_flag("--retain-safe-private", f->opt.retain_safe_private, "Retain Safe Private Option (PS3.15 E.3.10)");
  sub->add_flag("--retain-uids", f->opt.retain_uids, "Retain UIDs Option");
  sub->add_flag("--retain-device-identity", f->opt.retain_device_identity, "Retain Device Identity Option");
  sub->add_flag("--retain-institution-identity", f->opt.retain_institution_identity,
                "Retain Institution Identity Option");
  sub->add_flag("--retain-patient-characteristics", f->opt.retain_patient_characteristics,
                "Retain Patient Characteristics Option");
  sub->add_flag("--retain-long-full-dates", f->opt.retain_long_full_dates,
                "Retain Longitudinal Temporal Information with Full Dates Option");
  sub->add_flag("--retain-long-modified-dates", f->opt.retain_long_modified_dates,
                "Retain Longitudinal Temporal Information with Modified Dates Option (keyed per-patient shift)");
  sub->add_flag("--clean-descriptors", f->opt.clean_descriptors, "Clean Descriptors Option");
  sub->add_flag("--clean-structured-content", f->opt.clean_structured_content, "Clean Structured Content Option");
  sub->add_flag("--clean-graphics", f->opt.clean_graphics, "Clean Graphics Option");
  sub->add_option("--burned-in", f->burned_in,
                  "Instances that may show burned-in text: quarantine (into OUTDIR/.quarantine), keep, fail")
      ->check(CLI::IsMember({"quarantine", "keep", "fail"}));
  sub->add_option("--date-shift-range", f->date_shift_range,
                  "Days a patient's dates may be shifted back with --retain-long-modified-dates (default 3650)");
  sub->add_flag("--resume", f->resume, "Skip outputs already complete from a run with the same key and options");
  sub->add_option("--linkage", f->linkage, "Write id_old,id_new lines for UIDs and Patient IDs to this CSV (mode 0600)");
  add_shard_option(*sub, f->shard, "Process only part i of N (0 <= i < N) by a hash of the relative path");
  sub->add_option("--verify", f->verify,
                  "Check de-identified files for residual patient data (against the options each one records)");
  sub->add_option("--against", f->against,
                  "With --verify: the original files; their names, IDs, dates, texts and UIDs are searched for");
  f->out.add_to(*sub);
  sub->footer("Status: written, quarantined, refused, skipped, error. Exit 0 when every file was written (or "
              "skipped), 1 when one was quarantined or refused, 2 on a usage or I/O error. See docs/deid.md.");
  return [f]() { return run(*f); };
}

}  // namespace dg::cli
