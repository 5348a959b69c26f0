// The gateway's ATNA audit trail (PS3.15 A.5, through audit/trail): Application Activity at start and stop, a
// Security Alert for every denial, TLS failure and protocol violation, Begin Transferring when a study's first
// object passes, DICOM Instances Transferred (per study: SOP classes and counts) when the association ends, and
// Query for every C-FIND (its identifier base64). Patient ID appears only where the standard requires it (the
// Patient participant object of a transfer); the connection log never has it.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "audit/trail.h"
#include "gateway/server.h"

namespace dg::gateway {

class AuditObserver : public Observer {
 public:
  explicit AuditObserver(audit::Trail& trail, std::string source_id = {});
  void started(const std::vector<std::pair<std::string, std::uint16_t>>& listening) override;
  void stopping(const std::string& why) override;
  void reloaded(bool ok, const std::string& error) override;
  void tls_failed(const SessionInfo&, const std::string& why) override;
  void rejected(const SessionInfo&, const dicom::pdu::Associate&, const Decision&) override;
  void command(const SessionInfo&, const dicom::pdu::Associate& rq, const CommandInfo&, const Decision&) override;
  void instance(const SessionInfo&, const dicom::pdu::Associate& rq, const Instance&) override;
  void query(const SessionInfo&, const dicom::pdu::Associate& rq, const CommandInfo&,
             std::span<const std::uint8_t> identifier, const std::string& ts, bool truncated) override;
  void violation(const SessionInfo&, Side side, const std::string& what) override;
  void ended(const SessionInfo&, const dicom::pdu::Associate* rq, const SessionEnd&) override;
  // Application Activity stop (also sent by stopping(); once).
  void stop();

 private:
  struct Study {
    audit::Instances in;
    bool failed = false;
    std::string calling, called;
  };
  audit::Common common(audit::Outcome o = audit::Outcome::success, std::string description = {}) const;
  std::vector<audit::Participant> parties(const SessionInfo& s, const std::string& calling, const std::string& called) const;
  void submit(std::string xml);
  // Security Alerts about one source address: at most kAlertsPerMinute a minute; those over it are counted and said
  // in one alert when the minute is over (or at stop), so a flood of hostile connections cannot flood the trail or
  // stall the gateway on the spool's syncs.
  bool alert_allowed(const SessionInfo& s);
  void report_suppressed(const std::string& address, std::uint64_t n);
  static constexpr std::uint64_t kAlertsPerMinute = 20;
  struct Window {
    std::chrono::steady_clock::time_point start;
    std::uint64_t sent = 0, suppressed = 0;
  };
  std::map<std::string, Window> alerts_;
  audit::Trail& trail_;
  std::string source_id_;
  audit::Participant app_;
  bool stopped_ = false, started_ = false;
  std::map<std::uint64_t, std::map<std::string, Study>> studies_;  // by association, by study UID
};

}  // namespace dg::gateway
