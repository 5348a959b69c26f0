// `dicomguard audit expect`: what a scan did to each DICOM service, what that service should have told its audit
// trail about it (PS3.15 A.5.3), and what the audit capture taken meanwhile shows it did send. Works on the JSON
// Lines of `scan --json` (service records) and of `audit listen -o` (audit records); docs/audit.md explains the
// matching.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "findings/finding.h"

namespace dg::audit {

struct ExpectedEvent {
  std::string event_id;  // "110113"
  std::string because;   // "3 associations rejected (unknown AE titles)"
  std::vector<std::string> also;  // other EventIDs that count for it ("110114" for a refused association)
};

// The events a device must have sent for what the scan did to it (a `service` record of a DIMSE service).
std::vector<ExpectedEvent> expected_events(const nlohmann::json& service);

// Whether the audit record came from the service's host: its syslog sender address, its syslog HOSTNAME or its
// AuditSourceID is the service's address or the host name it was scanned as.
bool from_host(const nlohmann::json& audit_record, const nlohmann::json& service);

// One {"type":"audit-expect"} record per DIMSE service, with an audit.missing-event finding per event not seen.
std::vector<Record> expect(const std::vector<nlohmann::json>& services, const std::vector<nlohmann::json>& audits);

}  // namespace dg::audit
