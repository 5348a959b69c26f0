// A received (or saved) audit message as a findings::Record of type "audit" (docs/json-lines.md): the syslog
// header, the A.5 facts (validate_message), the problems, and the findings audit.invalid, audit.clock-skew,
// audit.plaintext and audit.refused. Never a patient value: object IDs are hashed, names and queries dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "audit/receiver.h"
#include "findings/finding.h"

namespace dg::audit {

struct RecorderOptions {
  double max_skew_s = 2.0;   // event time vs receive time; < 0: not checked (audit check of saved messages)
};

class Recorder {
 public:
  explicit Recorder(RecorderOptions o = {}) : o_(o) {}
  // One record per message or refusal. For saved messages (audit check) transport is "file" and at is unknown
  // (the skew is not judged, nor the transport).
  Record record(const Received& r);
  // {"type":"summary","command":COMMAND ("audit-listen", "audit-check"), ...}: records by status, findings by
  // severity, messages by transport.
  nlohmann::json summary(const std::string& command, double seconds) const;
  void count(const Record& r);  // adds r (made here or elsewhere) to the summary's counts
  std::uint64_t invalid() const { return invalid_; }
  std::uint64_t refused() const { return refused_; }
  std::uint64_t findings() const { return findings_; }

 private:
  RecorderOptions o_;
  std::set<std::string> plaintext_reported_;  // "udp 127.0.0.1"
  std::uint64_t messages_ = 0, valid_ = 0, invalid_ = 0, refused_ = 0, findings_ = 0;
  std::map<std::string, std::uint64_t> by_transport_, status_, severities_;
};

std::string utc_text(std::chrono::system_clock::time_point t);  // 2026-12-02T05:40:41.123Z

}  // namespace dg::audit
