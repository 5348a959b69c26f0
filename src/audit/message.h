// PS3.15 Annex A.5 audit messages (the DICOM Audit Message Schema of A.5.1, conventions of A.5.2, the messages of
// A.5.3) as XML text, and their RFC 5424 syslog framing. Plain data in, one line of XML out (no newline in it):
// every attribute value and text is escaped, binary values are base64. Nothing here reads the network; the
// caller (the gateway) fills the structs and never puts secrets (keys, passwords, tokens) in them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dg::audit {

// An ActiveParticipant (A.5.2.1).
struct Participant {
  std::string user_id;      // UserID: the AE title, or a process id ("1234@host")
  std::string alt_user_id;  // AlternativeUserID (optional)
  std::string user_name;    // UserName (optional)
  bool requestor = false;   // UserIsRequestor
  std::string address;      // NetworkAccessPointID: an IP address (type 2) or a host name (type 1); "" for none
  // RoleIDCode: "source" (110153), "destination" (110152), "application" (110150), "application-launcher"
  // (110151), "" for none. Anything else: std::invalid_argument.
  std::string role;
};

enum class Outcome { success = 0, minor_failure = 4, serious_failure = 8, major_failure = 12 };

struct Common {
  std::string source_id;        // AuditSourceID (e.g. the host name); "" is replaced by the host name
  std::string enterprise_site;  // AuditEnterpriseSiteID (optional)
  std::chrono::system_clock::time_point when = std::chrono::system_clock::now();  // EventDateTime
  Outcome outcome = Outcome::success;
  std::string outcome_description;  // EventOutcomeDescription (optional)
};

// A.5.3.1 Application Activity (110100): EventTypeCode 110120 Application Start or 110121 Application Stop.
// application: the gateway itself (its role is forced to "application").
std::string application_activity(const Common& c, bool started, const Participant& application);

// A.5.3.11 Security Alert (110113). The EventTypeCode (DCID 403) per cause:
enum class AlertKind {
  node_authentication,  // 110126 Node Authentication: TLS handshake failed, certificate untrusted or absent,
                        // a calling AE title / address that the policy does not know (association refused)
  restricted_function,  // 110132 Use of Restricted Function: an authenticated node asked for what the policy
                        // forbids (a command refused, an association refused for its contexts)
  protocol_violation,   // 110126 Node Authentication as well (CID 403 has no protocol-error code): a malformed
                        // PDU; the alert description says what was wrong
  security_configuration,  // 110129 Security Configuration (policy loaded or changed)
  software_configuration,  // 110131 Software Configuration
  network_configuration,   // 110128 Network Configuration
};
// participants: the reporting process first (the gateway), then the performing peers (their UserIsRequestor is
// written FALSE, as A.5.3.11 requires). alert_subject: the node the alert is about (its IP address or
// name@domain; "" for none), with alert_description (else the outcome description) as its mandatory "Alert
// Description" detail (base64, as the schema requires).
std::string security_alert(const Common& c, AlertKind kind, const std::vector<Participant>& participants,
                           const std::string& alert_subject, const std::string& alert_description);

// The study and patient of a transfer (one study, one patient per message, as A.5.3 requires).
struct Instances {
  std::string study_uid;
  std::map<std::string, int> sop_classes;  // SOP Class UID -> number of instances
  std::string patient_id;
  std::string patient_name;  // ParticipantObjectName of the Patient ("" : the patient ID is repeated there)
};
// A.5.3.3 Begin Transferring DICOM Instances (110102). participants: source and destination (roles set).
std::string begin_transferring(const Common& c, const std::vector<Participant>& participants, const Instances& in);
// A.5.3.7 DICOM Instances Transferred (110104); action 'C' (create), 'R' (read) or 'U' (update).
std::string instances_transferred(const Common& c, const std::vector<Participant>& participants,
                                  const Instances& in, char action);
// A.5.3.10 Query (110112): the SOP Class queried, the query data set (base64 in ParticipantObjectQuery) and its
// transfer syntax (ParticipantObjectDetail "TransferSyntax").
std::string query(const Common& c, const std::vector<Participant>& participants, const std::string& sop_class_uid,
                  std::span<const std::uint8_t> query_dataset, const std::string& transfer_syntax_uid);

// Helpers (exposed for tests).
std::string xml_escape(std::string_view s);   // & < > " ' and control characters; invalid UTF-8 becomes U+FFFD
std::string base64(std::span<const std::uint8_t> bytes);
std::string base64(std::string_view s);
std::string event_time(std::chrono::system_clock::time_point t);  // 2026-12-02T05:40:41.123Z (UTC)
std::string host_name();

// RFC 5424 framing: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM MSG
struct SyslogOptions {
  int priority = 85;               // facility 10 (authpriv) * 8 + severity 5 (notice)
  std::string hostname;            // "" : host_name()
  std::string app_name = "dicomguard";
  std::string msg_id = "DICOM+RFC3881";
  bool bom = true;                 // RFC 5424 6.4: a UTF-8 MSG starts with the BOM
};
std::string syslog_frame(std::string_view xml, const SyslogOptions& o = {},
                         std::chrono::system_clock::time_point when = std::chrono::system_clock::now());

}  // namespace dg::audit
