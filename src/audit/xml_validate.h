// Validation of one received PS3.15 A.5 audit message (untrusted XML): a hardened libxml2 parse (no DTD, no
// entities, no network, bounded size and depth), the A.5.1 schema (data/audit/audit-message.rng, made from the
// standard's .rnc with trang, embedded at build time), and the semantic rules of A.5.2/A.5.3 the schema cannot
// say (docs/audit.md lists them). What comes out is facts without patient values: ParticipantObjectIDs are
// hashed (SHA-256, 16 hex digits), names, queries and details dropped.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::audit {

struct Problem {
  std::string code;  // machine-readable: "xml.not-well-formed", "schema.invalid", "event.unknown-id", ...
  std::string text;  // what was wrong, in words (never a patient value)
};

struct CodeRef {
  std::string code, system, meaning;
};

struct SeenParticipant {
  std::string user_id;   // the AE title or process (not a patient value)
  std::string address;   // NetworkAccessPointID
  bool requestor = false;
  std::vector<std::string> roles;  // RoleIDCode csd-codes
};

struct SeenObject {
  std::string id_sha256;  // ParticipantObjectID, hashed: SHA-256, first 16 hex digits
  std::string id_type;    // ParticipantObjectIDTypeCode csd-code
  std::string type, role; // ParticipantObjectTypeCode, ParticipantObjectTypeCodeRole
};

struct AuditFacts {
  bool well_formed = false;
  bool schema_valid = false;  // the A.5.1 schema's verdict alone (what jing says about the same document)
  CodeRef event;
  std::vector<CodeRef> event_types;
  std::string action, outcome, event_time;
  std::optional<double> event_epoch;  // EventDateTime in seconds since the epoch (UTC), when it has a zone
  std::string source_id;
  std::vector<SeenParticipant> participants;
  std::vector<SeenObject> objects;
  std::vector<Problem> problems;  // empty: the message is valid
  bool valid() const { return problems.empty(); }
};

inline constexpr std::size_t kMaxXmlBytes = 1u << 20;  // whatever --max-message says, never more XML than this
inline constexpr int kMaxXmlDepth = 16;                // the schema's documents are 5 deep

// Never throws; bad input gives problems.
AuditFacts validate_message(std::string_view xml);

// The DCM meaning of an A.5.3 EventID ("Query" for 110112), "" for a code the standard does not define there.
std::string event_name(const std::string& code);
// SHA-256 of s, first 16 hex digits.
std::string short_hash(std::string_view s);

}  // namespace dg::audit
