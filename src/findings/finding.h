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

// A subject (a file, a service, ...) with its status and the findings about it.
// Sinks print the subject line, then its findings.
struct Record {
  std::string type;     // "file", "service", "sanitize", ...: the JSON "type"
  std::string subject;  // path or address: what the text sink shows
  std::string status;   // verdict / action: what the text sink shows beside the subject
  nlohmann::json fields = nlohmann::json::object();  // extra JSON fields of the record
  std::vector<Finding> findings;
  std::vector<std::string> lines;  // extra lines the text sink prints under the subject (not in JSON)
  std::string rendered;  // a sink's text for this record, made by Sink::prepare on a worker thread (or empty)
};

}  // namespace dg
