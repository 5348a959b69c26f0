// Reading search engine exports: one JSON document (a line of a Shodan `shodan download` / `shodan parse` JSON
// Lines export, a Censys host, a Censys API answer wrapping hosts, or an array of any of these) into
// observations. Parsing never throws: a document that is not one of these is an error string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shodan/observation.h"

namespace dg::shodan {

struct Parsed {
  std::vector<Observation> observations;
  std::string error;  // empty when the document was one of the known shapes
};

Parsed parse_document(std::string_view json_text);

// "2026-11-20T08:15:30.123456" (Shodan, UTC without zone), "2026-11-20T08:15:30Z" or with an offset (Censys):
// "2026-11-20T08:15:30Z", or "" when it is not such a time.
std::string normalize_time(std::string_view t);

}  // namespace dg::shodan
