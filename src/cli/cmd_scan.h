// `dicomguard scan`'s flags, and the run they make: for the subcommand and for `demo`, which scans its lab
// in-process with the same flags.
#pragma once

#include <string>
#include <vector>

#include "cli/output.h"
#include "findings/sink.h"
#include "scan/targets.h"

namespace dg::cli {

struct ScanFlags {
  std::vector<std::string> targets;
  std::vector<std::string> lists;
  std::string ports = scan::kDefaultPorts;
  std::vector<std::string> exclude;
  bool discover = false;
  double rate = 0;
  std::size_t max_inflight = 1024;
  int per_host = 2;
  double timeout = 5;
  bool no_tls = false;
  bool tls_first = false;
  std::vector<std::string> called_aes;
  bool count_records = false;
  bool default_credentials = false;
  bool active_store = false;
  std::string move_probe;  // the address our move-destination listener binds to
  std::vector<std::string> baseline;  // earlier outputs (any number: the shards of one run)
  std::string shard;                  // --shard i/N
  std::string fail_on = "medium";
  std::string progress = "auto";
  std::string tls_cert, tls_key, ca_file;
  bool tls_full = false, no_tls_grade = false;
  std::uint64_t seed = 0;
  std::string probe = "service";
  bool list_probes = false;
  double max_skew = 2;       // seconds
  bool ntp = false;          // opt-in: the NTP pass
  std::uint16_t ntp_port = 123, nts_port = 4460;
  OutputFlags out;
};

// Maps the flags to a scan plan, runs it and writes the records and the summary to `sinks`; returns the exit code.
int run_scan(const ScanFlags& f, Sink& sinks);

}  // namespace dg::cli
