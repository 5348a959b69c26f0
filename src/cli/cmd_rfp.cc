// dicomguard rfp: security requirements for buying or renewing an imaging system, each a testable "shall" with
// its acceptance test; with --check RESULTS.jsonl, each met, not met or not measured from those results.
#include <cstdio>

#include "cli/commands.h"
#include "procure/rfp.h"
#include "cli/results_input.h"

namespace dg::cli {

namespace {
struct RfpFlags {
  std::vector<std::string> check;
  std::string format, output;
};

std::string format_for(const std::string& given, const std::string& output) {
  if (!given.empty()) return given;
  for (const char* ext : {"html", "csv"}) {
    const std::string e = std::string(".") + ext;
    if (output.size() > e.size() && output.compare(output.size() - e.size(), e.size(), e) == 0) return ext;
  }
  return "md";
}
}  // namespace

Action add_rfp(CLI::App& app) {
  auto* sub = app.add_subcommand("rfp", "Security requirements for buying or renewing an imaging system, each with "
                                        "its acceptance test; --check marks them met, not met or not measured");
  auto f = std::make_shared<RfpFlags>();
  sub->add_option("--format", f->format, "md (default, or from -o's extension), html or csv")
      ->check(CLI::IsMember({"md", "html", "csv"}));
  sub->add_option("--check", f->check, "JSON Lines of dicomguard scan/tls/files/deid --verify/audit/weblog/shodan "
                                        "--json: add each requirement's verdict and its evidence")
      ->check(CLI::ExistingFile);
  sub->add_option("-o,--output", f->output, "Write to this file instead of standard output");
  sub->footer("A requirement is not met when its results hold one of its checks, met when they hold what would have "
              "shown one and none came, and not measured otherwise (never a pass). With --check the exit code is 1 "
              "when a requirement is not met.");
  return [f]() {
    const std::string format = format_for(f->format, f->output);
    std::vector<procure::Verdict> verdicts;
    bool not_met = false;
    if (!f->check.empty()) {
      report::Results r;
      if (std::string e = load_results(f->check, r); !e.empty()) {
        std::fprintf(stderr, "dicomguard rfp: %s\n", e.c_str());
        return kExitError;
      }
      verdicts = procure::check(r);
      for (const auto& v : verdicts) not_met = not_met || v.item.status == report::ItemStatus::fail;
      for (const std::string& m : r.missing_shards())
        std::fprintf(stderr, "dicomguard rfp: warning: %s; no requirement passes from part of a run\n", m.c_str());
    }
    const std::string text = procure::render_rfp(f->check.empty() ? nullptr : &verdicts, format);
    if (std::string e = write_output(f->output, text); !e.empty()) {
      std::fprintf(stderr, "dicomguard rfp: %s\n", e.c_str());
      return kExitError;
    }
    return not_met ? kExitFindings : kExitClean;
  };
}

}  // namespace dg::cli
