// What a report is made from: the JSON Lines that `scan`, `tls` and `files` wrote (--json). Records are kept as
// JSON; the loader only sorts them by type and indexes the findings. Nothing here reads a patient value: the
// records hold none.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace dg::report {

struct Results {
  std::vector<nlohmann::json> services;   // {"type":"service"}: DIMSE and HTTP services
  std::vector<nlohmann::json> tls;        // {"type":"tls"}
  std::vector<nlohmann::json> files;      // {"type":"file"}
  std::vector<nlohmann::json> verified;   // {"type":"verify"}: de-identified files checked by deid --verify
  std::vector<nlohmann::json> audit;      // {"type":"audit"}: messages audit listen received (or audit check read)
  std::vector<nlohmann::json> clocks;     // {"type":"clock"}: a host's clock as a scan saw it
  std::vector<nlohmann::json> ntp;        // {"type":"ntp"}: NTP servers a scan --ntp found
  std::vector<nlohmann::json> findings;   // {"type":"finding"}
  // What a search engine saw (dicomguard shodan: service records with a "source"), apart from what was measured:
  // the checks their banners proved are listed with them (observed_checks), not counted as measured today, except
  // exposure.internet, which only they can see.
  std::vector<nlohmann::json> observed;
  std::map<std::string, std::set<std::string>> observed_checks;  // "source|addr:port" -> check IDs
  std::vector<nlohmann::json> summaries;  // {"type":"summary"}
  std::set<std::string> commands;         // commands whose summary is present: scan, tls, files, deid-verify
  bool scan_assessed = false;             // a scan in its default (assess) mode, not --discover
  std::map<std::string, std::set<std::string>> checks_by_target;  // service target or file path -> check IDs
  std::map<std::string, int> check_count;                         // check ID -> findings
  std::vector<std::string> inputs;
  std::uint64_t skipped_lines = 0;        // lines that were not JSON objects with a "type"
  std::uint64_t duplicates = 0;           // records (with their findings) already given by another input: merged
  // Sharded runs (--shard i/N): command -> N -> the shards i whose summary is present.
  std::map<std::string, std::map<std::uint32_t, std::set<std::uint32_t>>> shards;

  // "scan: 1 of 4 shards missing (2/4)" for every sharded run whose shards are not all present; empty when
  // complete. A report of part of a sharded run can pass items that the missing part would fail.
  std::vector<std::string> missing_shards() const;

  bool has(const std::string& check) const { return check_count.count(check) > 0; }
  // No record of any kind: every line was skipped (not dicomguard results) or there were none.
  bool empty() const {
    return services.empty() && tls.empty() && files.empty() && verified.empty() && audit.empty() && clocks.empty() &&
           ntp.empty() && findings.empty() && observed.empty() && summaries.empty();
  }
  // Targets ("addr:port") with any of these checks.
  std::vector<std::string> targets_with(std::initializer_list<const char*> checks) const;
};

// Reads JSON Lines files; returns an error message (unreadable file), or "" on success. Lines that do not parse
// are counted in skipped_lines, not fatal. The files may be the shards of one run, or overlapping runs: a record
// of something another input already described (the same service, TLS endpoint, file, clock, NTP server; or an
// identical record of another type) is merged, not counted twice: the one of the later input wins, with its
// findings. Give newer results last.
std::string load(const std::vector<std::string>& paths, Results& out);
void add_line(const std::string& line, Results& out);
// "addr:port" of a service record as its findings name it (an IPv6 address in brackets).
std::string service_target(const nlohmann::json& service);
// The address a finding's target names: "10.0.0.5" of "10.0.0.5:104", "::1" of "[::1]:104"; a bare address, and
// anything else (a file path), as it is.
std::string target_host(const std::string& target);

// One device's part of the results: its services, TLS endpoints, clock, NTP answers and audit messages (sent by
// it under its address or a host name its records give), and the findings about them; every summary is kept, so
// what ran is still known. `host` is an address or a host name a service or TLS record was given as. Files and
// de-identified files name no device: kept only with `keep_files` (the caller knows they are this device's).
// `ports`, when not empty, narrows services, TLS endpoints and their findings to those ports (two devices behind
// one address); the host's clock and audit messages are kept. Returns false, and leaves `out` empty, when no
// record is about that host (and ports).
bool only_host(const Results& r, const std::string& host, const std::set<int>& ports, bool keep_files, Results& out);
// Every address the results hold a record about (services, TLS, clocks, NTP, audit senders), sorted.
std::vector<std::string> hosts(const Results& r);

// What makes two records the same subject: "service||127.0.0.1:104", "file|/srv/a.dcm", ...; "" for a finding.
std::string subject_key(const nlohmann::json& record);

}  // namespace dg::report
