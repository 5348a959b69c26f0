#include "gateway/audit_observer.h"

#include <unistd.h>

#include "dicom/dimse.h"

namespace dg::gateway {

namespace pdu = dicom::pdu;

namespace {
bool dicom_status_failed(std::uint16_t s) { return dicom::dimse::status_category(s) == dicom::dimse::Category::failure; }
}  // namespace

AuditObserver::AuditObserver(audit::Trail& trail, std::string source_id)
    : trail_(trail), source_id_(source_id.empty() ? audit::host_name() : std::move(source_id)) {
  app_.user_id = std::to_string(::getpid()) + "@" + source_id_;
  app_.alt_user_id = "dicomguard gateway";
  app_.user_name = "dicomguard gateway";
  app_.requestor = false;
  app_.role = "application";
}

audit::Common AuditObserver::common(audit::Outcome o, std::string description) const {
  audit::Common c;
  c.source_id = source_id_;
  c.outcome = o;
  c.outcome_description = std::move(description);
  return c;
}

std::vector<audit::Participant> AuditObserver::parties(const SessionInfo& s, const std::string& calling,
                                                       const std::string& called) const {
  audit::Participant src, dst;
  src.user_id = calling.empty() ? s.peer.address : calling;
  src.alt_user_id = s.peer.identities.empty() ? std::string() : s.peer.identities.front();
  src.requestor = true;
  src.address = s.peer.address;
  src.role = "source";
  dst.user_id = called.empty() ? s.listen : called;
  dst.address = s.upstream.empty() ? std::string() : s.upstream.substr(0, s.upstream.rfind(':'));
  if (!dst.address.empty() && dst.address.front() == '[') dst.address = dst.address.substr(1, dst.address.size() - 2);
  dst.role = "destination";
  return {src, dst, app_};
}

void AuditObserver::submit(std::string xml) { trail_.submit(std::move(xml)); }

bool AuditObserver::alert_allowed(const SessionInfo& s) {
  const auto now = std::chrono::steady_clock::now();
  Window& w = alerts_[s.peer.address];
  if (w.sent == 0 || now - w.start >= std::chrono::minutes(1)) {
    if (w.suppressed) report_suppressed(s.peer.address, w.suppressed);
    w = Window{now, 0, 0};
  }
  if (w.sent < kAlertsPerMinute) {
    ++w.sent;
    return true;
  }
  ++w.suppressed;
  if (alerts_.size() > 100000) alerts_.clear();  // bounded, whatever the number of sources
  return false;
}

void AuditObserver::report_suppressed(const std::string& address, std::uint64_t n) {
  audit::Participant src;
  src.user_id = address;
  src.requestor = true;
  src.address = address;
  src.role = "source";
  submit(audit::security_alert(common(audit::Outcome::serious_failure), audit::AlertKind::node_authentication,
                               {src, app_}, address,
                               std::to_string(n) + " further security alerts about this address within a minute were "
                                                   "counted, not sent one by one"));
}

void AuditObserver::started(const std::vector<std::pair<std::string, std::uint16_t>>&) {
  if (started_) return;
  started_ = true;
  submit(audit::application_activity(common(), true, app_));
}

void AuditObserver::stop() {
  if (stopped_ || !started_) return;
  stopped_ = true;
  for (const auto& [address, w] : alerts_)
    if (w.suppressed) report_suppressed(address, w.suppressed);
  alerts_.clear();
  submit(audit::application_activity(common(), false, app_));
}

void AuditObserver::stopping(const std::string&) { stop(); }

void AuditObserver::reloaded(bool ok, const std::string& error) {
  submit(audit::security_alert(common(ok ? audit::Outcome::success : audit::Outcome::minor_failure),
                               audit::AlertKind::security_configuration, {app_}, app_.user_id,
                               ok ? "configuration reloaded (SIGHUP)" : "configuration reload refused: " + error));
}

void AuditObserver::tls_failed(const SessionInfo& s, const std::string& why) {
  if (!alert_allowed(s)) return;
  submit(audit::security_alert(common(audit::Outcome::minor_failure), audit::AlertKind::node_authentication,
                               parties(s, {}, {}), s.peer.address, "TLS handshake failed: " + why));
}

void AuditObserver::rejected(const SessionInfo& s, const pdu::Associate& rq, const Decision& d) {
  if (!alert_allowed(s)) return;
  // A node the policy does not know (address, AE title, certificate) is a node-authentication failure; a known node
  // refused for what it proposed is the use of a restricted function.
  const bool unknown_node = d.filter == "source" || d.filter == "ae-title";
  submit(audit::security_alert(common(audit::Outcome::minor_failure),
                               unknown_node ? audit::AlertKind::node_authentication : audit::AlertKind::restricted_function,
                               parties(s, rq.calling(), rq.called()), s.peer.address,
                               "association refused (" + d.filter + "): " + d.reason));
}

void AuditObserver::command(const SessionInfo& s, const pdu::Associate& rq, const CommandInfo& c, const Decision& d) {
  if (d.allowed || !alert_allowed(s)) return;
  std::string what = std::string(service_name(c.service)) + " refused (" + d.filter + "): " + d.reason;
  if (!c.move_destination.empty()) what += "; move destination " + c.move_destination;
  submit(audit::security_alert(common(audit::Outcome::minor_failure), audit::AlertKind::restricted_function,
                               parties(s, rq.calling(), rq.called()), s.peer.address, what));
}

void AuditObserver::instance(const SessionInfo& s, const pdu::Associate& rq, const Instance& i) {
  if (i.study_uid.empty()) return;  // an object whose first fragment did not show its study: counted nowhere
  auto& by_study = studies_[s.id];
  if (by_study.size() >= 1000 && !by_study.count(i.study_uid)) {
    // Bounded whatever one association sends: the studies so far are reported now, not at its end.
    SessionEnd none;
    ended(s, nullptr, none);
  }
  auto& studies = studies_[s.id];
  auto [it, first] = studies.try_emplace(i.study_uid);
  Study& st = it->second;
  if (first) {
    st.in.study_uid = i.study_uid;
    st.in.patient_id = i.patient_id;
    st.calling = i.from == Side::client ? rq.calling() : rq.called();
    st.called = i.from == Side::client ? rq.called() : rq.calling();
    audit::Instances begin = st.in;
    begin.sop_classes[i.sop_class] = 1;
    submit(audit::begin_transferring(common(), parties(s, st.calling, st.called), begin));
  }
  ++st.in.sop_classes[i.sop_class];
  if (dicom_status_failed(i.status)) st.failed = true;
}

void AuditObserver::query(const SessionInfo& s, const pdu::Associate& rq, const CommandInfo& c,
                          std::span<const std::uint8_t> identifier, const std::string& ts, bool truncated) {
  audit::Common cm = common(truncated ? audit::Outcome::minor_failure : audit::Outcome::success,
                            truncated ? "query identifier longer than 64 KiB: its start is recorded" : "");
  submit(audit::query(cm, parties(s, rq.calling(), rq.called()), c.sop_class, identifier, ts));
}

void AuditObserver::violation(const SessionInfo& s, Side side, const std::string& what) {
  if (!alert_allowed(s)) return;
  submit(audit::security_alert(common(audit::Outcome::serious_failure), audit::AlertKind::protocol_violation,
                               parties(s, {}, {}), s.peer.address,
                               std::string("DICOM protocol violation by the ") + side_name(side) + ": " + what));
}

void AuditObserver::ended(const SessionInfo& s, const pdu::Associate*, const SessionEnd&) {
  auto it = studies_.find(s.id);
  if (it == studies_.end()) return;
  for (auto& [uid, st] : it->second)
    submit(audit::instances_transferred(
        common(st.failed ? audit::Outcome::minor_failure : audit::Outcome::success,
               st.failed ? "some instances were not stored" : ""),
        parties(s, st.calling, st.called), st.in, 'C'));
  studies_.erase(it);
}

}  // namespace dg::gateway
