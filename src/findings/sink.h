// Sinks: the only code that formats results. Text (default, colour on a TTY), JSON Lines, SARIF 2.1.0.
#pragma once

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "findings/finding.h"

namespace dg {

class Sink {
 public:
  virtual ~Sink() = default;
  // Optional, thread-safe: formats the record ahead of time on the thread that produced it (into
  // Record::rendered), so that record() in the ordered output thread only writes.
  virtual void prepare(Record&) const {}
  virtual void record(const Record& r) = 0;
  // summary is a JSON object with "type":"summary"; sinks that write a file do so here.
  // Returns an empty string, or an error message (e.g. the SARIF file could not be written).
  virtual std::string end(const nlohmann::json& summary) = 0;
};

struct TextOptions {
  bool color = false;
  bool verbose = false;  // also print subjects without findings, and finding evidence
};
std::unique_ptr<Sink> make_text_sink(std::FILE* out, TextOptions opt);
// One JSON object per line: the record (with "type"), then one {"type":"finding"} per finding, then the summary.
std::unique_ptr<Sink> make_jsonl_sink(std::FILE* out);
// SARIF 2.1.0 written atomically to `path` at end(); one rule per catalog entry.
std::unique_ptr<Sink> make_sarif_sink(std::string path, std::string tool_version);

class MultiSink : public Sink {
 public:
  void add(std::unique_ptr<Sink> s) { sinks_.push_back(std::move(s)); }
  void prepare(Record& r) const override {
    for (const auto& s : sinks_) s->prepare(r);
  }
  void record(const Record& r) override {
    for (auto& s : sinks_) s->record(r);
  }
  std::string end(const nlohmann::json& summary) override;

 private:
  std::vector<std::unique_ptr<Sink>> sinks_;
};

// JSON form of a finding: {"type":"finding","check",...}.
nlohmann::json finding_json(const Finding& f);

}  // namespace dg
