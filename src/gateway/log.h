// The gateway's connection log: every event as a findings::Record (JSON Lines with --json, a line of text
// otherwise, documented in docs/json-lines.md), and a fan-out so the log and the audit trail both hear it.
// Never a patient's data: AE titles, addresses, UIDs of SOP classes, counts and statuses only.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "findings/sink.h"
#include "gateway/server.h"

namespace dg::gateway {

class LogObserver : public Observer {
 public:
  explicit LogObserver(Sink& sink) : sink_(sink) {}
  void started(const std::vector<std::pair<std::string, std::uint16_t>>& listening) override;
  void stopping(const std::string& why) override;
  void reloaded(bool ok, const std::string& error) override;
  void tls_failed(const SessionInfo&, const std::string& why) override;
  void rejected(const SessionInfo&, const dicom::pdu::Associate&, const Decision&) override;
  void answered(const SessionInfo&, const dicom::pdu::Associate& rq, const dicom::pdu::Associate* ac,
                const dicom::pdu::AssociateRj* rj) override;
  void command(const SessionInfo&, const dicom::pdu::Associate& rq, const CommandInfo&, const Decision&) override;
  void violation(const SessionInfo&, Side side, const std::string& what) override;
  void ended(const SessionInfo&, const dicom::pdu::Associate* rq, const SessionEnd&) override;
  const std::string& error() const { return error_; }
  std::uint64_t associations() const { return associations_; }
  // The closing {"type":"summary","command":"gateway"} record: associations by how they ended, findings by
  // severity.
  nlohmann::json summary(double seconds) const;

 private:
  void emit(Record r);
  Sink& sink_;
  std::string error_;
  std::uint64_t associations_ = 0;
  std::map<std::string, std::uint64_t> ended_;
  std::map<std::string, std::uint64_t> severities_;
};

// Every event to each observer in turn.
class FanOut : public Observer {
 public:
  explicit FanOut(std::vector<Observer*> all) : all_(std::move(all)) {}
  void started(const std::vector<std::pair<std::string, std::uint16_t>>& l) override { for (auto* o : all_) o->started(l); }
  void stopping(const std::string& w) override { for (auto* o : all_) o->stopping(w); }
  void reloaded(bool ok, const std::string& e) override { for (auto* o : all_) o->reloaded(ok, e); }
  void tls_failed(const SessionInfo& s, const std::string& w) override { for (auto* o : all_) o->tls_failed(s, w); }
  void rejected(const SessionInfo& s, const dicom::pdu::Associate& a, const Decision& d) override {
    for (auto* o : all_) o->rejected(s, a, d);
  }
  void answered(const SessionInfo& s, const dicom::pdu::Associate& rq, const dicom::pdu::Associate* ac,
                const dicom::pdu::AssociateRj* rj) override {
    for (auto* o : all_) o->answered(s, rq, ac, rj);
  }
  void command(const SessionInfo& s, const dicom::pdu::Associate& rq, const CommandInfo& c, const Decision& d) override {
    for (auto* o : all_) o->command(s, rq, c, d);
  }
  void instance(const SessionInfo& s, const dicom::pdu::Associate& rq, const Instance& i) override {
    for (auto* o : all_) o->instance(s, rq, i);
  }
  void query(const SessionInfo& s, const dicom::pdu::Associate& rq, const CommandInfo& c,
             std::span<const std::uint8_t> id, const std::string& ts, bool t) override {
    for (auto* o : all_) o->query(s, rq, c, id, ts, t);
  }
  void retrieve_done(const SessionInfo& s, const dicom::pdu::Associate& rq, const CommandInfo& c, std::uint16_t st,
                     int a, int b, int w) override {
    for (auto* o : all_) o->retrieve_done(s, rq, c, st, a, b, w);
  }
  void violation(const SessionInfo& s, Side side, const std::string& w) override {
    for (auto* o : all_) o->violation(s, side, w);
  }
  void ended(const SessionInfo& s, const dicom::pdu::Associate* rq, const SessionEnd& e) override {
    for (auto* o : all_) o->ended(s, rq, e);
  }

 private:
  std::vector<Observer*> all_;
};

}  // namespace dg::gateway
