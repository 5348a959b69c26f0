// A scan as a typed plan, run by the engine, written to sinks: the passes `dicomguard scan` and `dicomguard tls`
// make (and `deid`/`gateway` self-checks will), with every decision between passes a named function over what
// the probes found (ProbeFacts), never over a record's text or JSON. The CLI only maps flags to a ScanPlan.
//
//   1. every endpoint            plan.probe (probe_table.h) on each target endpoint
//   2. learned AE titles         services that refused every called AE title, again with a title a web API of
//                                the same address disclosed (Orthanc's /system)
//   3. plaintext twins           each DICOM-TLS service: the plain DIMSE service on its address that takes the
//                                same AE title (found on evidence, or possible)
//   4. TLS grading               plan.grade_probe on every TLS service found (DICOM-TLS and HTTPS)
//   5. baseline                  {"type":"change"} records against an earlier scan
//   6. NTP (--ntp, opt-in)       each scanned address: an NTP client request and a mode 6 READVAR to its UDP NTP
//                                port, a TLS handshake with ALPN ntske/1 to its NTS-KE port: {"type":"ntp"}
//   7. clocks                    {"type":"clock"} per address with a clock observation (passes 1, 4 and 6)
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "findings/sink.h"
#include "findings/tally.h"
#include "scan/baseline.h"
#include "scan/engine.h"
#include "scan/probe_table.h"
#include "scan/targets.h"

namespace dg::scan {

// A listener of ours that a --move-probe asks servers to send our test object to (the CLI gives the lab's SCP:
// the scan does not depend on the lab).
class MoveListener {
 public:
  virtual ~MoveListener() = default;
  virtual bool received(const std::string& sop_instance_uid) const = 0;
  virtual bool associated_from(const std::string& address) const = 0;
  virtual std::string destination_ae() const = 0;
};

struct ScanProgress {
  std::uint64_t endpoints = 0;        // done
  std::uint64_t total = UINT64_MAX;   // to do (UINT64_MAX: not known, a list is still being read)
  std::uint64_t records = 0;          // services found so far
  double seconds = 0;
};

struct ScanPlan {
  std::string command = "scan";    // the summary's "command"
  std::string counted = "services";  // what the summary counts (its key): services, endpoints
  std::string mode;                // the summary's "mode": assess, discover, quick, full
  std::string probe = "service";   // the probe kind run on every endpoint
  ProbeOptions options;            // how every probe is made (the session sets each one's seed)
  EngineOptions engine;
  RecordOptions record;
  bool learn_ae_titles = true;     // pass 2
  bool correlate_twins = true;     // pass 3
  std::string grade_probe;         // pass 4: "tls", or empty for none
  const ServiceMap* baseline = nullptr;  // pass 5, when given
  const MoveListener* move_listener = nullptr;
  bool clocks = false;             // pass 7 (scan sets it)
  double max_skew = 2;             // pass 7: seconds a clock may be off (beyond its measurement's uncertainty)
  bool ntp = false;                // pass 6
  std::uint16_t ntp_port = 123, nts_port = 4460;
  std::function<void(const ScanProgress&)> progress;  // after each endpoint (on the engine's thread)
  std::function<void()> before_output;                 // before each record is written (to clear a progress line)
};

// What a run found, typed: the summary is made from it.
struct ScanTotals {
  Tally records{"scan", "services"};  // the records of pass 1-3, by status and severity
  Tally graded{"scan", "tls"};        // the records of pass 4
  Tally clocks{"scan", "clock"};      // the records of passes 6 and 7 (ntp, clock)
  std::uint64_t clock_hosts = 0, clock_skewed = 0, ntp_queried = 0, ntp_answered = 0;
  std::uint64_t endpoints = 0, dicom_services = 0, handshakes = 0, graded_endpoints = 0, grade_handshakes = 0;
  std::map<std::string, std::uint64_t> answers;  // how each endpoint answered
  std::optional<std::map<std::string, int>> baseline;  // new, gone, changed
  EngineStats engine;
  double seconds = 0;
};

class ScanSession {
 public:
  // Throws std::runtime_error when the TLS client cannot be set up (a bad --tls-cert) or a probe kind is unknown.
  ScanSession(ScanPlan plan, Sink& sink);
  ~ScanSession();
  ScanTotals run(const TargetSet& targets);
  // The {"type":"summary"} object of a run (docs/json-lines.md), with the exit code the caller will return.
  nlohmann::json summary(const ScanTotals& t, int exit_code) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::scan
