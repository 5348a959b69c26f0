// dicomguard explain [TOPIC] [--audience A] [RESULTS.jsonl...]: the working group's short stories (data/stories/),
// for one audience, told with the reader's own numbers when results are given; with no topic, the communications
// matrix (every topic by the six audiences).
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/results_input.h"
#include "explain/format.h"
#include "explain/story.h"
#include "explain/values.h"
#include "report/results.h"

namespace dg::cli {

namespace {

struct ExplainFlags {
  std::vector<std::string> args;  // [TOPIC] RESULTS...
  std::string audience, format = "text", output;
};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool is_file(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0;
}

// A topic ID is lower case, digits and dashes; a word that is also an existing file is a results file.
bool looks_like_topic(const std::string& a) {
  if (a.empty() || is_file(a)) return false;
  for (char c : a)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

int fail(const std::string& what) {
  std::fprintf(stderr, "dicomguard explain: %s\n", what.c_str());
  return kExitError;
}

// Each input must be dicomguard JSON Lines: readable, at least one record, no line that is not one.
std::string load_strictly(const std::vector<std::string>& paths, report::Results& r) {
  for (const auto& p : paths) {
    report::Results one;
    if (std::string e = report::load({p}, one); !e.empty()) return e;
    if (one.skipped_lines)
      return p + ": " + std::to_string(one.skipped_lines) + (one.skipped_lines == 1 ? " line is" : " lines are") +
             " not dicomguard results (JSON Lines of scan, tls, files or shodan --json)";
    if (one.empty()) return p + ": no dicomguard results in it";
  }
  return report::load(paths, r);
}

}  // namespace

Action add_explain(CLI::App& app) {
  auto* sub = app.add_subcommand("explain", "Short stories on DICOM security for an administrator, CISO, journalist, "
                                            "product manager, regulator or the public, told with your own results");
  auto f = std::make_shared<ExplainFlags>();
  sub->add_option("TOPIC", f->args,
                  "TOPIC (see the list: dicomguard explain), then any JSON Lines results of scan, tls, files, shodan "
                  "--json (optional)")
      ->type_name("[RESULTS.jsonl...]");
  sub->add_option("--audience", f->audience,
                  "admin, ciso, journalist, product-manager, regulator or public (default: admin when results are "
                  "given, journalist without)");
  sub->add_option("--format", f->format, "text (default; wrapped at 78 columns), md or html (one self-contained page)");
  sub->add_option("-o,--output", f->output, "Write to this file instead of standard output");
  sub->footer("With no TOPIC: the communications matrix, every topic by the six audiences (with the words of each "
              "story). With results, a story is told with your numbers; only the admin story names hosts. Every "
              "story ends with its sources.");
  return [f]() {
    std::string topic;
    std::vector<std::string> inputs = f->args;
    if (!inputs.empty() && looks_like_topic(inputs.front())) {
      topic = inputs.front();
      inputs.erase(inputs.begin());
    }
    const std::vector<explain::Story>* all = nullptr;
    try {
      all = &explain::stories();
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    std::vector<std::string> ids;
    for (const auto& s : *all) ids.push_back(s.id);
    const explain::Story* story = nullptr;
    if (!topic.empty() && !(story = explain::find_story(topic)))
      return fail("unknown topic '" + topic + "'; topics: " + joined(ids));
    const auto& aud = explain::audiences();
    if (!f->audience.empty() && std::find(aud.begin(), aud.end(), f->audience) == aud.end())
      return fail("unknown audience '" + f->audience + "'; audiences: " + joined(aud));
    explain::Format format;
    if (f->format == "text") format = explain::Format::text;
    else if (f->format == "md") format = explain::Format::md;
    else if (f->format == "html") format = explain::Format::html;
    else return fail("unknown format '" + f->format + "'; formats: text, md, html");
    for (const auto& p : inputs)
      if (!is_file(p)) return fail("cannot read " + p + (looks_like_topic(p) ? " (a topic comes first, once)" : ""));

    explain::Values values;
    if (!inputs.empty()) {
      report::Results r;
      if (std::string e = load_strictly(inputs, r); !e.empty()) return fail(e);
      values = explain::measure(r);
    }
    std::string text;
    if (!story) {
      if (!f->audience.empty()) return fail("--audience needs a TOPIC; topics: " + joined(ids));
      text = explain::format_matrix(*all, values, format);
    } else {
      const std::string audience = !f->audience.empty() ? f->audience : values.has_results ? "admin" : "journalist";
      text = explain::format_story(*story, audience, values, format);
    }
    if (std::string e = write_output(f->output, text); !e.empty()) return fail(e);
    return kExitClean;
  };
}

}  // namespace dg::cli
