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
  // Whether record() still reads a prepared record's fields and notes. When no sink does, the thread that
  // prepared a record frees them there (per_file.cc): memory freed on the thread that allocated it is cheaper,
  // and the ordered output thread only writes.
  virtual bool reads_prepared_fields() const { return true; }
  // Returns an empty string, or why the record could not be written (e.g. stdout is a full disk).
  virtual std::string record(const Record& r) = 0;
  // summary is a JSON object with "type":"summary"; sinks that write a file do so here.
  // Returns an empty string, or an error message (e.g. the SARIF file could not be written).
  virtual std::string end(const nlohmann::json& summary) = 0;
};

struct TextOptions {
  bool color = false;
  bool verbose = false;  // also print subjects without findings, and finding evidence
};
std::unique_ptr<Sink> make_text_sink(std::FILE* out, TextOptions opt);
// What the text sink writes for a record's subject, its notes, and a summary's closing line (tests, and the
// demo's own story, read these rather than re-deriving the wording).
std::string text_subject(const Record& r);
std::vector<std::string> text_notes(const Record& r);
std::string text_summary(const nlohmann::json& summary);
// One JSON object per line: the record (with "type"), then one {"type":"finding"} per finding, then the summary.
std::unique_ptr<Sink> make_jsonl_sink(std::FILE* out);
// SARIF 2.1.0 written atomically to `path` at end(); one rule per catalog entry.
std::unique_ptr<Sink> make_sarif_sink(std::string path, std::string tool_version);

class MultiSink : public Sink {
 public:
  void add(std::unique_ptr<Sink> s) { sinks_.push_back(std::move(s)); }
  // Fields written into every record and the summary unless the record has its own: --shard's "shard" ("2/8"),
  // so that each line of a sharded run says which part of the job it came from.
  void set_stamp(nlohmann::json fields) { stamp_ = std::move(fields); }
  void prepare(Record& r) const override {
    stamp(r);
    for (const auto& s : sinks_) s->prepare(r);
  }
  bool reads_prepared_fields() const override {
    for (const auto& s : sinks_)
      if (s->reads_prepared_fields()) return true;
    return false;
  }
  // The first failure of each sink is kept and also reported by end(), so that a caller that writes thousands of
  // records need not check each one to fail the run.
  std::string record(const Record& r) override;
  std::string end(const nlohmann::json& summary) override;

 private:
  bool stamp(Record& r) const;  // true when it added a field
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::string record_error_;
  nlohmann::json stamp_ = nlohmann::json::object();
};

// The JSON Lines object of a record (without its findings and without the newline): its fields with "type",
// "checks" and FIELD_bytes added in their sorted places, byte for byte what nlohmann's dump() would write.
std::string jsonl_record_line(const Record& r);
// JSON form of a finding: {"type":"finding","check",...}. The JSON Lines sink writes exactly its dump().
nlohmann::json finding_json(const Finding& f);

}  // namespace dg
