// --baseline OLD.jsonl: what is new, gone or changed since an earlier scan's JSON Lines output.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "findings/finding.h"

namespace dg::scan {

struct ServiceState {
  std::string protocol, exposure;
  std::set<std::string> checks;
};
using ServiceMap = std::map<std::string, ServiceState>;  // "addr:port" -> state

// Reads the service records and findings of an earlier `dicomguard scan --json` output. Empty string on success.
std::string load_baseline(const std::string& path, ServiceMap& out);
// Several outputs (the shards of one run, or overlapping runs): one map. A service seen in more than one keeps
// the state of the last file that has it, with the checks of that file.
std::string load_baseline(const std::vector<std::string>& paths, ServiceMap& out);
// Adds one record (and its findings) of this scan.
void add_state(ServiceMap& m, const Record& r);
// {"type":"change"} records: new (not in the baseline), gone (in the baseline, probed now, not found), changed
// (protocol, exposure or check IDs differ). `probed` says whether an endpoint was probed by this scan.
template <class Probed>
std::vector<Record> compare(const ServiceMap& before, const ServiceMap& now, Probed&& probed);

}  // namespace dg::scan

#include "scan/baseline_impl.h"
