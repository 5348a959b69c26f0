// One observation by one check about one target. Checks return these; only sinks format them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "findings/severity.h"

namespace dg {

struct Finding {
  std::string check;       // stable catalog ID, e.g. "file.preamble.executable"
  Severity severity;       // from the catalog unless a check has a reason to differ
  std::string target;      // file path, host:port, ...
  std::string title;       // one line, specific to this finding (never patient data)
  nlohmann::json evidence = nlohmann::json::object();  // counts, offsets, tags, hashes; no PHI
};

// Builds a finding whose severity and default title come from the built-in catalog.
// An unknown ID is a programming error: it aborts in debug builds and throws otherwise.
Finding make_finding(std::string_view check, std::string target, nlohmann::json evidence = nlohmann::json::object(),
                     std::string title = {});

// A remark the text sink writes under a record, in its own words (findings/sink.cc holds the wording); the
// producer gives only what happened. Not part of the JSON: the same facts are in the record's fields.
struct Note {
  std::string key;                                    // e.g. "retrieve.not-proven"
  nlohmann::json facts = nlohmann::json::object();    // what the sentence needs
};

// A subject (a file, a service, ...) with its status and the findings about it, as data: the sinks decide how
// it looks. The JSON Lines sink writes `fields` with "type" and "checks" (the check IDs of `findings`); the text
// sink builds a subject line from the fields of each type (docs/json-lines.md) and the notes.
struct Record {
  std::string type;     // "file", "service", "tls", "sanitize", "change", ...: the JSON "type"
  std::string status;   // verdict / exposure / action: what the text sink shows first
  nlohmann::json fields = nlohmann::json::object();  // the record's JSON fields (without "type")
  std::vector<Finding> findings;
  std::vector<Note> notes;
  std::string rendered;  // a sink's text for this record, made by Sink::prepare on a worker thread (or empty)
  void note(std::string key, nlohmann::json facts = nlohmann::json::object()) {
    notes.push_back({std::move(key), std::move(facts)});
  }
};

}  // namespace dg
