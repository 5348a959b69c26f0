#include "gateway/log.h"

#include <fmt/format.h>

#include <cmath>

#include "findings/finding.h"

namespace dg::gateway {

namespace pdu = dicom::pdu;
using nlohmann::json;

namespace {

json who(const SessionInfo& s) {
  json j = {{"association", s.id}, {"route", s.route}, {"listen", s.listen}, {"peer", s.peer.address},
            {"tls", s.peer.tls}};
  if (!s.tls_version.empty()) j["tls_version"] = s.tls_version;
  if (!s.tls_cipher.empty()) j["tls_cipher"] = s.tls_cipher;
  if (!s.peer.identities.empty()) j["client_identity"] = s.peer.identities.front();
  return j;
}

void titles(json& j, const pdu::Associate& rq) {
  j["calling_ae"] = rq.calling();
  j["called_ae"] = rq.called();
}

std::string hex4(std::uint16_t v) { return fmt::format("0x{:04X}", v); }

}  // namespace

void LogObserver::emit(Record r) {
  for (const Finding& f : r.findings) ++severities_[std::string(to_string(f.severity))];
  if (!error_.empty()) return;
  error_ = sink_.record(r);
}

void LogObserver::started(const std::vector<std::pair<std::string, std::uint16_t>>& listening) {
  for (const auto& [route, port] : listening) {
    Record r{"gateway", "listening"};
    r.fields = {{"event", "listening"}, {"route", route}, {"port", port}};
    emit(std::move(r));
  }
}

void LogObserver::stopping(const std::string& why) {
  Record r{"gateway", "draining"};
  r.fields = {{"event", "draining"}, {"reason", why}};
  emit(std::move(r));
}

void LogObserver::reloaded(bool ok, const std::string& error) {
  Record r{"gateway", ok ? "reloaded" : "reload-failed"};
  r.fields = {{"event", ok ? "reloaded" : "reload-failed"}};
  if (!ok) r.fields["error"] = error;
  emit(std::move(r));
}

void LogObserver::tls_failed(const SessionInfo& s, const std::string& why) {
  Record r{"denial", "tls-failed"};
  r.fields = who(s);
  r.fields["stage"] = "tls";
  r.fields["reason"] = why;
  r.findings.push_back(make_finding("gateway.tls-failure", s.peer.address, {{"reason", why}}));
  emit(std::move(r));
}

void LogObserver::rejected(const SessionInfo& s, const pdu::Associate& rq, const Decision& d) {
  Record r{"denial", "rejected"};
  r.fields = who(s);
  titles(r.fields, rq);
  r.fields["stage"] = "association";
  r.fields["filter"] = d.filter;
  r.fields["reason"] = d.reason;
  r.fields["rj"] = {{"result", d.result}, {"source", d.source}, {"reason", d.reason_code},
                    {"text", pdu::rj_reason_name(d.source, d.reason_code)}};
  r.findings.push_back(make_finding("gateway.denied.association", s.peer.address,
                                    {{"filter", d.filter}, {"calling_ae", rq.calling()}, {"called_ae", rq.called()}}));
  emit(std::move(r));
}

void LogObserver::answered(const SessionInfo&, const pdu::Associate&, const pdu::Associate*, const pdu::AssociateRj*) {}

void LogObserver::command(const SessionInfo& s, const pdu::Associate& rq, const CommandInfo& c, const Decision& d) {
  if (d.allowed) return;  // allowed commands are counted in the association's record
  Record r{"denial", "refused"};
  r.fields = who(s);
  titles(r.fields, rq);
  r.fields["stage"] = "command";
  r.fields["command"] = service_name(c.service);
  r.fields["sop_class"] = c.sop_class;
  if (!c.move_destination.empty()) r.fields["move_destination"] = c.move_destination;
  r.fields["filter"] = d.filter;
  r.fields["reason"] = d.reason;
  r.fields["status"] = hex4(d.status);
  r.findings.push_back(make_finding("gateway.denied.command", s.peer.address,
                                    {{"command", service_name(c.service)}, {"calling_ae", rq.calling()},
                                     {"status", hex4(d.status)}}));
  emit(std::move(r));
}

void LogObserver::violation(const SessionInfo& s, Side side, const std::string& what) {
  Record r{"denial", "aborted"};
  r.fields = who(s);
  r.fields["stage"] = "protocol";
  r.fields["side"] = side_name(side);
  r.fields["reason"] = what;
  r.findings.push_back(make_finding("gateway.protocol-violation", s.peer.address, {{"side", side_name(side)}, {"what", what}}));
  emit(std::move(r));
}

void LogObserver::ended(const SessionInfo& s, const pdu::Associate* rq, const SessionEnd& e) {
  ++associations_;
  ++ended_[e.how];
  Record r{"association", e.how};
  r.fields = who(s);
  if (rq) titles(r.fields, *rq);
  r.fields["ended"] = e.how;
  r.fields["bytes_from_client"] = e.bytes_from_client;
  r.fields["bytes_from_upstream"] = e.bytes_from_upstream;
  r.fields["commands"] = e.commands;
  r.fields["denied"] = e.denied;
  r.fields["seconds"] = std::round(e.seconds * 1000) / 1000;
  emit(std::move(r));
}

}  // namespace dg::gateway

namespace dg::gateway {
nlohmann::json LogObserver::summary(double seconds) const {
  json status = json::object();
  for (const auto& [k, v] : ended_) status[k] = v;
  json findings = json::object();
  for (const char* sev : {"critical", "high", "medium", "low", "info"}) {
    auto it = severities_.find(sev);
    findings[sev] = it == severities_.end() ? 0 : it->second;
  }
  return {{"type", "summary"}, {"command", "gateway"}, {"status", status}, {"findings", findings}, {"errors", 0},
          {"seconds", std::round(seconds * 1000) / 1000}, {"subjects", associations_}, {"associations", associations_}};
}
}  // namespace dg::gateway
