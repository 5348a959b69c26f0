#include "audit/record.h"

#include <cmath>
#include <ctime>

#include "audit/syslog_parse.h"
#include "audit/xml_validate.h"

namespace dg::audit {

std::string utc_text(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

namespace {
nlohmann::json problems_json(const std::vector<Problem>& ps) {
  auto a = nlohmann::json::array();
  for (const auto& p : ps) a.push_back({{"code", p.code}, {"text", p.text}});
  return a;
}
bool starts_xml(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  return s.substr(0, 5) == "<?xml" || s.substr(0, 13) == "<AuditMessage";
}
}  // namespace

Record Recorder::record(const Received& r) {
  Record rec;
  rec.type = "audit";
  auto& f = rec.fields;
  const bool saved = r.transport == "file";
  f["transport"] = r.transport;
  f["sender"] = r.sender;
  if (r.sender_port) f["sender_port"] = r.sender_port;
  if (!saved) f["received"] = utc_text(r.at);
  f["bytes"] = r.size;
  const std::string& target = r.sender;  // findings are per sender (per file line for audit check)
  f["target"] = target;
  ++by_transport_[r.transport];
  if (r.kind == Received::Kind::refused) {
    ++refused_;
    rec.status = "refused";
    f["status"] = rec.status;
    f["valid"] = false;
    f["reason"] = r.reason;
    f["problems"] = problems_json({{r.reason, r.reason_text}});
    rec.findings.push_back(make_finding("audit.refused", target, {{"reason", r.reason}, {"bytes", r.size}},
                                        r.reason_text));
    count(rec);
    return rec;
  }
  ++messages_;
  std::vector<Problem> problems;
  std::string xml;
  if (saved && starts_xml(r.data)) {
    xml = r.data;
  } else {
    syslog::Message m;
    std::string why;
    if (std::string code = syslog::parse_5424(r.data, m, why); !code.empty()) {
      problems.push_back({code, why});
    } else {
      f["hostname"] = m.hostname;
      f["app_name"] = m.app_name;
      f["msgid"] = m.msgid;
      f["syslog_time"] = m.timestamp;
      xml = std::move(m.msg);
    }
  }
  AuditFacts a;
  if (problems.empty()) {
    a = validate_message(xml);
    problems.insert(problems.end(), a.problems.begin(), a.problems.end());
    f["well_formed"] = a.well_formed;
    f["schema_valid"] = a.schema_valid;
    if (!a.event.code.empty()) {
      f["event_id"] = a.event.code;
      f["event"] = event_name(a.event.code);
    }
    auto types = nlohmann::json::array();
    for (const auto& t : a.event_types) types.push_back(t.code);
    if (!types.empty()) f["event_types"] = types;
    if (!a.action.empty()) f["action"] = a.action;
    if (!a.outcome.empty()) f["outcome"] = a.outcome;
    if (!a.event_time.empty()) f["event_time"] = a.event_time;
    if (!a.source_id.empty()) f["source_id"] = a.source_id;
    auto ps = nlohmann::json::array();
    for (const auto& p : a.participants) {
      nlohmann::json j{{"user_id", p.user_id}, {"requestor", p.requestor}, {"roles", p.roles}};
      if (!p.address.empty()) j["address"] = p.address;
      ps.push_back(std::move(j));
    }
    if (a.well_formed) f["participants"] = ps;
    auto os = nlohmann::json::array();
    for (const auto& o : a.objects) {
      nlohmann::json j{{"id_sha256", o.id_sha256}, {"id_type", o.id_type}};
      if (!o.type.empty()) j["object_type"] = o.type;
      if (!o.role.empty()) j["object_role"] = o.role;
      os.push_back(std::move(j));
    }
    if (a.well_formed) f["objects"] = os;
  } else {
    f["well_formed"] = false;
    f["schema_valid"] = false;
  }
  const bool valid = problems.empty();
  f["valid"] = valid;
  f["problems"] = problems_json(problems);
  rec.status = valid ? "valid" : "invalid";
  f["status"] = rec.status;
  if (valid) {
    ++valid_;
  } else {
    ++invalid_;
    auto codes = nlohmann::json::array();
    for (const auto& p : problems) codes.push_back(p.code);
    rec.findings.push_back(make_finding("audit.invalid", target, {{"problems", codes}},
                                        "invalid audit message: " + problems.front().code));
  }
  if (!saved && a.event_epoch && o_.max_skew_s >= 0) {
    const double at = std::chrono::duration<double>(r.at.time_since_epoch()).count();
    const double skew = std::round((*a.event_epoch - at) * 1000) / 1000;
    f["skew_s"] = skew;
    if (std::fabs(skew) > o_.max_skew_s)
      rec.findings.push_back(make_finding("audit.clock-skew", target,
                                          {{"skew_s", skew}, {"max_skew_s", o_.max_skew_s}}));
  }
  if (r.transport == "udp" || r.transport == "tcp") {
    if (plaintext_reported_.insert(r.transport + " " + r.sender).second)
      rec.findings.push_back(make_finding("audit.plaintext", target, {{"transport", r.transport}}));
  }
  count(rec);
  return rec;
}

void Recorder::count(const Record& r) {
  ++status_[r.status];
  findings_ += r.findings.size();
  for (const auto& f : r.findings) ++severities_[std::string(to_string(f.severity))];
}

nlohmann::json Recorder::summary(const std::string& command, double seconds) const {
  nlohmann::json sev = nlohmann::json::object();
  for (const char* k : {"critical", "high", "medium", "low", "info"})
    sev[k] = severities_.count(k) ? severities_.at(k) : 0;
  std::uint64_t subjects = 0;
  for (const auto& [k, n] : status_) subjects += n;
  return {{"type", "summary"}, {"command", command}, {"status", status_},     {"findings", sev},
          {"errors", 0},       {"subjects", subjects}, {"messages", messages_}, {"by_transport", by_transport_},
          {"seconds", std::round(seconds * 1000) / 1000}};
}

}  // namespace dg::audit
