// dicomguard report RESULTS.jsonl... -o report.html: the one-page checklist, threat matrix, inventory and the
// story of every check found, from the JSON Lines of scan, tls and files. dicomguard matrix: the matrix alone.
#include <cstdio>
#include <ctime>
#include <fmt/format.h>

#include "cli/commands.h"
#include "findings/sink.h"
#include "report/checklist.h"
#include "report/pdf.h"
#include "report/render.h"
#include "report/results.h"
#include "util/durable_write.h"

namespace dg::cli {

namespace {
struct ReportFlags {
  std::vector<std::string> inputs, before, after;
  std::string output, format, pdf, title = "DICOM security report";
  bool show_paths = false;
};

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M UTC", &tm);
  return b;
}
}  // namespace

Action add_report(CLI::App& app) {
  auto* sub = app.add_subcommand("report", "Turn scan, tls and files results (--json) into a one-page checklist and "
                                           "report for administrators and CISOs");
  auto f = std::make_shared<ReportFlags>();
  sub->add_option("RESULTS", f->inputs, "JSON Lines written by dicomguard scan/tls/files --json (and audit listen -o)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("-o,--output", f->output, "The report file (default: report.html, or report.md with --format md)");
  sub->add_option("--format", f->format, "html (default; self-contained, prints with the checklist on page 1) or md")
      ->check(CLI::IsMember({"html", "md"}));
  sub->add_option("--pdf", f->pdf, "Also print the HTML report to this PDF with headless Chromium");
  sub->add_option("--title", f->title, "Title of the report");
  sub->add_option("--before", f->before, "Results before a fix (JSON Lines): the report compares its checklist with --after");
  sub->add_option("--after", f->after, "Results after the fix (JSON Lines)");
  sub->add_flag("--show-paths", f->show_paths, "List file paths in the report (off by default: paths may name patients)");
  sub->footer("Every checklist item is pass, fail or not measured, from the results only: an empty or partial set "
              "of results gives 'not measured', never 'pass'.");
  return [f]() {
    report::Results r;
    if (std::string e = report::load(f->inputs, r); !e.empty()) {
      std::fprintf(stderr, "dicomguard report: %s\n", e.c_str());
      return kExitError;
    }
    std::string format = f->format;
    if (format.empty()) format = f->output.size() > 3 && f->output.substr(f->output.size() - 3) == ".md" ? "md" : "html";
    if (format == "md" && !f->pdf.empty()) {
      std::fprintf(stderr, "dicomguard report: --pdf needs the HTML format\n");
      return kExitError;
    }
    const std::string out = f->output.empty() ? (format == "md" ? "report.md" : "report.html") : f->output;
    report::RenderOptions o;
    o.title = f->title;
    o.generated = now_utc();
    o.show_paths = f->show_paths;
    report::Results before, after;
    if (f->before.empty() != f->after.empty()) {
      std::fprintf(stderr, "dicomguard report: --before and --after go together\n");
      return kExitError;
    }
    if (!f->before.empty()) {
      for (auto [files, into] : {std::pair{&f->before, &before}, std::pair{&f->after, &after}})
        if (std::string e = report::load(*files, *into); !e.empty()) {
          std::fprintf(stderr, "dicomguard report: %s\n", e.c_str());
          return kExitError;
        }
      o.before = &before;
      o.after = &after;
    }
    const std::string text = format == "md" ? report::render_markdown(r, o) : report::render_html(r, o);
    if (std::string e = util::write_durably(out, text); !e.empty()) {
      std::fprintf(stderr, "dicomguard report: %s\n", e.c_str());
      return kExitError;
    }
    int pass = 0, fail = 0, nm = 0;
    for (const auto& it : report::checklist(r)) (it.status == report::ItemStatus::pass ? pass : it.status == report::ItemStatus::fail ? fail : nm)++;
    std::printf("report: %s (checklist: %d pass, %d fail, %d not measured; %zu services, %zu TLS endpoints, %zu files)\n",
                out.c_str(), pass, fail, nm, r.services.size(), r.tls.size(), r.files.size());
    if (r.skipped_lines)
      std::fprintf(stderr, "dicomguard report: %llu lines were not dicomguard results and were skipped\n",
                   static_cast<unsigned long long>(r.skipped_lines));
    if (r.duplicates)
      std::fprintf(stderr, "dicomguard report: %llu records were given by more than one input and merged (the later "
                           "input's kept)\n",
                   static_cast<unsigned long long>(r.duplicates));
    for (const std::string& m : r.missing_shards())
      std::fprintf(stderr, "dicomguard report: warning: %s; the report covers part of the run\n", m.c_str());
    if (!f->pdf.empty()) {
      const std::string chromium = report::find_chromium();
      if (chromium.empty()) {
        std::fprintf(stderr, "dicomguard report: --pdf needs Chromium (Debian package 'chromium'), which is not "
                             "installed; the HTML report was written\n");
        return kExitError;
      }
      if (std::string e = report::print_pdf(chromium, out, f->pdf); !e.empty()) {
        std::fprintf(stderr, "dicomguard report: --pdf: %s\n", e.c_str());
        return kExitError;
      }
      std::printf("report: %s\n", f->pdf.c_str());
    }
    return kExitClean;
  };
}

Action add_matrix(CLI::App& app) {
  auto* sub = app.add_subcommand("matrix", "The DICOM threat matrix: tactics by DICOM techniques and the checks that "
                                           "detect them, coloured by results when given");
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto format = std::make_shared<std::string>("text");
  auto output = std::make_shared<std::string>();
  sub->add_option("RESULTS", *inputs, "JSON Lines written by dicomguard scan/tls/files --json (optional)")
      ->check(CLI::ExistingFile);
  sub->add_option("--format", *format, "text (default), md or html")->check(CLI::IsMember({"text", "md", "html"}));
  sub->add_option("-o,--output", *output, "Write to this file instead of standard output");
  return [inputs, format, output]() {
    report::Results r;
    if (std::string e = report::load(*inputs, r); !e.empty()) {
      std::fprintf(stderr, "dicomguard matrix: %s\n", e.c_str());
      return kExitError;
    }
    const std::string text = report::render_matrix(r, *format);
    if (output->empty()) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      return kExitClean;
    }
    if (std::string e = util::write_durably(*output, text); !e.empty()) {
      std::fprintf(stderr, "dicomguard matrix: %s\n", e.c_str());
      return kExitError;
    }
    return kExitClean;
  };
}

}  // namespace dg::cli
