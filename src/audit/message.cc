#include "audit/message.h"

#include <unistd.h>

#include <ctime>
#include <stdexcept>

namespace dg::audit {
namespace {

struct Code {
  const char* code;
  const char* system;
  const char* meaning;
};

std::string attr(std::string_view name, std::string_view value) {
  std::string s = " ";
  s += name;
  s += "=\"";
  s += xml_escape(value);
  s += '"';
  return s;
}

std::string coded(std::string_view element, const Code& c) {
  return "<" + std::string(element) + attr("csd-code", c.code) + attr("codeSystemName", c.system) +
         attr("originalText", c.meaning) + "/>";
}

bool looks_like_ip(const std::string& a) {
  if (a.empty()) return false;
  if (a.find(':') != std::string::npos) return true;  // IPv6
  for (char ch : a)
    if (!(ch == '.' || (ch >= '0' && ch <= '9'))) return false;
  return true;
}

std::string participant(const Participant& p) {
  std::string s = "<ActiveParticipant" + attr("UserID", p.user_id);
  if (!p.alt_user_id.empty()) s += attr("AlternativeUserID", p.alt_user_id);
  if (!p.user_name.empty()) s += attr("UserName", p.user_name);
  s += attr("UserIsRequestor", p.requestor ? "true" : "false");
  if (!p.address.empty()) {
    s += attr("NetworkAccessPointID", p.address);
    s += attr("NetworkAccessPointTypeCode", looks_like_ip(p.address) ? "2" : "1");
  }
  const Code* role = nullptr;
  static const Code source{"110153", "DCM", "Source Role ID"}, destination{"110152", "DCM", "Destination Role ID"},
      application{"110150", "DCM", "Application"}, launcher{"110151", "DCM", "Application Launcher"};
  if (p.role == "source") role = &source;
  else if (p.role == "destination") role = &destination;
  else if (p.role == "application") role = &application;
  else if (p.role == "application-launcher") role = &launcher;
  else if (!p.role.empty()) throw std::invalid_argument("audit: unknown participant role '" + p.role + "'");
  if (!role) return s + "/>";
  return s + ">" + coded("RoleIDCode", *role) + "</ActiveParticipant>";
}

std::string begin(const Common& c, const Code& event, const char* action, const std::vector<Code>& types) {
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage><EventIdentification";
  if (action) s += attr("EventActionCode", action);
  s += attr("EventDateTime", event_time(c.when));
  s += attr("EventOutcomeIndicator", std::to_string(static_cast<int>(c.outcome)));
  s += ">" + coded("EventID", event);
  for (const auto& t : types) s += coded("EventTypeCode", t);
  if (!c.outcome_description.empty())
    s += "<EventOutcomeDescription>" + xml_escape(c.outcome_description) + "</EventOutcomeDescription>";
  return s + "</EventIdentification>";
}

std::string source(const Common& c) {
  std::string s = "<AuditSourceIdentification";
  if (!c.enterprise_site.empty()) s += attr("AuditEnterpriseSiteID", c.enterprise_site);
  s += attr("AuditSourceID", c.source_id.empty() ? host_name() : c.source_id);
  // 4: application server process (the gateway relays between applications).
  return s + "><AuditSourceTypeCode csd-code=\"4\"/></AuditSourceIdentification>";
}

std::string finish(std::string s) { return s + "</AuditMessage>"; }

void require_participants(const std::vector<Participant>& ps, const char* what) {
  if (ps.empty()) throw std::invalid_argument(std::string("audit: ") + what + " needs at least one participant");
}

std::string study_and_patient(const Instances& in) {
  if (in.study_uid.empty()) throw std::invalid_argument("audit: a transfer message needs the Study Instance UID");
  if (in.patient_id.empty()) throw std::invalid_argument("audit: a transfer message needs the Patient ID");
  std::string s = "<ParticipantObjectIdentification" + attr("ParticipantObjectID", in.study_uid) +
                  attr("ParticipantObjectTypeCode", "2") + attr("ParticipantObjectTypeCodeRole", "3") + ">" +
                  coded("ParticipantObjectIDTypeCode", {"110180", "DCM", "Study Instance UID"}) +
                  // The schema (A.5.1.1 as published) requires a name or a query: the UID again.
                  "<ParticipantObjectName>" + xml_escape(in.study_uid) + "</ParticipantObjectName>";
  if (!in.sop_classes.empty()) {
    s += "<ParticipantObjectDescription>";
    for (const auto& [uid, n] : in.sop_classes)
      s += "<SOPClass" + attr("UID", uid) + attr("NumberOfInstances", std::to_string(n)) + "/>";
    s += "</ParticipantObjectDescription>";
  }
  s += "</ParticipantObjectIdentification>";
  s += "<ParticipantObjectIdentification" + attr("ParticipantObjectID", in.patient_id) +
       attr("ParticipantObjectTypeCode", "1") + attr("ParticipantObjectTypeCodeRole", "1") + ">" +
       coded("ParticipantObjectIDTypeCode", {"2", "RFC-3881", "Patient Number"}) + "<ParticipantObjectName>" +
       xml_escape(in.patient_name.empty() ? in.patient_id : in.patient_name) +
       "</ParticipantObjectName></ParticipantObjectIdentification>";
  return s;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      switch (b) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        case '\t': out += "&#9;"; break;
        case '\n': out += "&#10;"; break;
        case '\r': out += "&#13;"; break;
        default:
          if (b < 0x20 || b == 0x7F) append_utf8(out, 0xFFFD);  // not allowed in XML 1.0, even as a reference
          else out += static_cast<char>(b);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence, checked (overlong forms, surrogates and values above U+10FFFF are replaced).
    int len = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
    if (b >= 0xF5) len = 0;
    std::uint32_t cp = len == 2 ? b & 0x1F : len == 3 ? b & 0x0F : b & 0x07;
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (ok && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
               (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF))
      ok = false;
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      append_utf8(out, 0xFFFD);
      ++i;
    }
  }
  return out;
}

std::string base64(std::span<const std::uint8_t> b) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    const std::uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == b.size()) {
    const std::uint32_t v = b[i] << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == b.size()) {
    const std::uint32_t v = (b[i] << 16) | (b[i + 1] << 8);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string base64(std::string_view s) {
  return base64(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

std::string event_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  long frac = static_cast<long>(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

std::string application_activity(const Common& c, bool started, const Participant& application) {
  Participant app = application;
  app.role = "application";
  const Code type = started ? Code{"110120", "DCM", "Application Start"} : Code{"110121", "DCM", "Application Stop"};
  return finish(begin(c, {"110100", "DCM", "Application Activity"}, "E", {type}) + participant(app) + source(c));
}

std::string security_alert(const Common& c, AlertKind kind, const std::vector<Participant>& participants,
                           const std::string& alert_subject, const std::string& alert_description) {
  require_participants(participants, "a security alert");
  Code type{"110126", "DCM", "Node Authentication"};
  switch (kind) {
    case AlertKind::node_authentication:
    case AlertKind::protocol_violation: break;
    case AlertKind::restricted_function: type = {"110132", "DCM", "Use of Restricted Function"}; break;
    case AlertKind::security_configuration: type = {"110129", "DCM", "Security Configuration"}; break;
    case AlertKind::software_configuration: type = {"110131", "DCM", "Software Configuration"}; break;
    case AlertKind::network_configuration: type = {"110128", "DCM", "Network Configuration"}; break;
  }
  std::string s = begin(c, {"110113", "DCM", "Security Alert"}, "E", {type});
  // The reporting process first; the performing persons or processes after it (UserIsRequestor shall be FALSE).
  for (std::size_t i = 0; i < participants.size(); ++i) {
    Participant p = participants[i];
    if (i > 0) p.requestor = false;
    s += participant(p);
  }
  s += source(c);
  if (!alert_subject.empty()) {
    // Alert Subject: a system object, ID type Node ID (the node's address or name@domain); the "Alert
    // Description" detail is mandatory (A.5.3.11).
    const std::string& text = !alert_description.empty() ? alert_description
                              : !c.outcome_description.empty() ? c.outcome_description
                                                               : std::string("security alert");
    s += "<ParticipantObjectIdentification" + attr("ParticipantObjectID", alert_subject) +
         attr("ParticipantObjectTypeCode", "2") + ">" +
         coded("ParticipantObjectIDTypeCode", {"110182", "DCM", "Node ID"}) + "<ParticipantObjectName>" +
         xml_escape(alert_subject) + "</ParticipantObjectName>" + "<ParticipantObjectDetail" +
         attr("type", "Alert Description") + attr("value", base64(text)) + "/></ParticipantObjectIdentification>";
  }
  return finish(s);
}

std::string begin_transferring(const Common& c, const std::vector<Participant>& participants, const Instances& in) {
  require_participants(participants, "Begin Transferring DICOM Instances");
  std::string s = begin(c, {"110102", "DCM", "Begin Transferring DICOM Instances"}, "E", {});
  for (const auto& p : participants) s += participant(p);
  return finish(s + source(c) + study_and_patient(in));
}

std::string instances_transferred(const Common& c, const std::vector<Participant>& participants,
                                  const Instances& in, char action) {
  require_participants(participants, "DICOM Instances Transferred");
  if (action != 'C' && action != 'R' && action != 'U')
    throw std::invalid_argument("audit: DICOM Instances Transferred takes action C, R or U");
  const char act[2] = {action, 0};
  std::string s = begin(c, {"110104", "DCM", "DICOM Instances Transferred"}, act, {});
  for (const auto& p : participants) s += participant(p);
  return finish(s + source(c) + study_and_patient(in));
}

std::string query(const Common& c, const std::vector<Participant>& participants, const std::string& sop_class_uid,
                  std::span<const std::uint8_t> query_dataset, const std::string& transfer_syntax_uid) {
  require_participants(participants, "Query");
  if (sop_class_uid.empty()) throw std::invalid_argument("audit: a Query message needs the SOP Class UID");
  std::string s = begin(c, {"110112", "DCM", "Query"}, "E", {});
  for (const auto& p : participants) s += participant(p);
  s += source(c);
  s += "<ParticipantObjectIdentification" + attr("ParticipantObjectID", sop_class_uid) +
       attr("ParticipantObjectTypeCode", "2") + attr("ParticipantObjectTypeCodeRole", "3") + ">" +
       coded("ParticipantObjectIDTypeCode", {"110181", "DCM", "SOP Class UID"}) + "<ParticipantObjectQuery>" +
       base64(query_dataset) + "</ParticipantObjectQuery>" + "<ParticipantObjectDetail" +
       attr("type", "TransferSyntax") + attr("value", base64(transfer_syntax_uid)) +
       "/></ParticipantObjectIdentification>";
  return finish(s);
}

std::string syslog_frame(std::string_view xml, const SyslogOptions& o, std::chrono::system_clock::time_point when) {
  if (o.priority < 0 || o.priority > 191) throw std::invalid_argument("syslog priority must be 0..191");
  auto field = [](const std::string& v, std::size_t max) {
    // PRINTUSASCII only, at most max characters; "-" for nothing.
    std::string out;
    for (char ch : v)
      if (ch > 32 && ch < 127 && out.size() < max) out += ch;
    return out.empty() ? std::string("-") : out;
  };
  std::string s = "<" + std::to_string(o.priority) + ">1 " + event_time(when) + " " +
                  field(o.hostname.empty() ? host_name() : o.hostname, 255) + " " + field(o.app_name, 48) + " " +
                  std::to_string(getpid()) + " " + field(o.msg_id, 32) + " - ";
  if (o.bom) s += "\xEF\xBB\xBF";
  s.append(xml);
  return s;
}

}  // namespace dg::audit
