// Every kind of probe the scan can run, in one table (zmap's probe modules): its name, what it is for, the
// record it writes with that record's fields, and how to make one. Plugging in a probe is its file (a Probe
// with record() and facts()) plus one line in probe_table.cc; `dicomguard scan --list-probes` prints the table
// and `scan --probe NAME` runs it on every endpoint.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "scan/dimse_probe.h"
#include "scan/http_probe.h"
#include "scan/probe.h"
#include "scan/tls_probe.h"

namespace dg::scan {

// Everything a probe kind may be made with; the session sets the seed of each probe.
struct ProbeOptions {
  DimseOptions dimse;
  HttpOptions http;
  TlsOptions tls;
  std::uint64_t seed = 0;  // 0: random
};

struct ProbeKind {
  std::string_view name;         // "service", "tls"
  std::string_view help;         // one line
  std::string_view record_type;  // the JSON "type" of its records (docs/json-lines.md)
  std::vector<std::string_view> fields;  // the top-level fields its records may have, besides "type" and "checks"
  std::unique_ptr<Probe> (*make)(const Endpoint&, const ProbeOptions&);
};

const std::vector<ProbeKind>& probe_kinds();
// nullptr when there is no probe of that name.
const ProbeKind* find_probe_kind(std::string_view name);

}  // namespace dg::scan
