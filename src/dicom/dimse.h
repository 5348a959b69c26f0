// DIMSE command sets and query identifiers (PS3.7 section 9 and Annex E): what the scan probe sends, and a
// bounded reading of what comes back. Command sets are always implicit VR little endian. The SOP class UIDs are
// in dicom/uids.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dicom/uids.h"

namespace dg::dicom::dimse {

enum CommandField : std::uint16_t {
  c_store_rq = 0x0001, c_store_rsp = 0x8001, c_get_rq = 0x0010, c_get_rsp = 0x8010, c_find_rq = 0x0020,
  c_find_rsp = 0x8020, c_move_rq = 0x0021, c_move_rsp = 0x8021, c_echo_rq = 0x0030, c_echo_rsp = 0x8030,
  c_cancel_rq = 0x0FFF
};

std::vector<std::uint8_t> echo_rq(std::uint16_t message_id);
std::vector<std::uint8_t> find_rq(std::uint16_t message_id, const std::string& sop_class);
std::vector<std::uint8_t> move_rq(std::uint16_t message_id, const std::string& sop_class,
                                  const std::string& destination_ae);
std::vector<std::uint8_t> get_rq(std::uint16_t message_id, const std::string& sop_class);
std::vector<std::uint8_t> store_rq(std::uint16_t message_id, const std::string& sop_class,
                                   const std::string& sop_instance);
// The one object `scan --active-store` stores: a Secondary Capture without pixel data whose patient and
// descriptions say what it is ("DICOMGUARD^TEST^OBJECT", safe to delete). UIDs are the caller's; its SOP class is
// uids::kSecondaryCapture.
std::vector<std::uint8_t> test_object(const std::string& study_uid, const std::string& series_uid,
                                      const std::string& instance_uid, bool explicit_vr);

// A STUDY-level identifier: Query/Retrieve Level, Patient ID (the value given: a random, never-existing ID proves
// a query is answered without matching anyone) and an empty Study Instance UID to return.
std::vector<std::uint8_t> study_identifier(const std::string& patient_id, bool explicit_vr);
// A STUDY-level C-MOVE/C-GET identifier naming one Study Instance UID (and a Patient ID when not empty: the
// Patient Root model needs it at STUDY level).
std::vector<std::uint8_t> move_identifier(const std::string& study_uid, bool explicit_vr,
                                          const std::string& patient_id = {});
// A universal STUDY-level identifier (every study matches): for --count-records, which counts answers only.
std::vector<std::uint8_t> universal_study_identifier(bool explicit_vr);

struct Response {
  std::uint16_t command_field = 0;
  std::uint16_t responded_id = 0;   // (0000,0120)
  std::uint16_t status = 0xFFFF;    // (0000,0900)
  bool has_status = false;
  bool has_dataset = false;         // (0000,0800) != 0x0101
  // C-MOVE/C-GET sub-operation counts (0000,1020..1023); -1 when absent.
  int remaining = -1, completed = -1, failed = -1, warning = -1;
  std::string error;                // empty when the command set walked cleanly
  // Request fields (read by dicomguard lab): (0000,0002), (0000,0110), (0000,0600), (0000,1000).
  std::string affected_sop_class, move_destination, affected_sop_instance;
  std::uint16_t message_id = 0;
};
// Reads a command set with the bounded walker; never throws.
Response parse_response(std::span<const std::uint8_t> command_set);

// A response command set: C-ECHO/C-FIND/C-MOVE/C-GET/C-STORE-RSP with a status; sub-operation counts when >= 0.
std::vector<std::uint8_t> response_command(const std::string& sop_class, std::uint16_t field, std::uint16_t responded_id,
                                      std::uint16_t status, bool dataset, int remaining = -1, int completed = -1,
                                      int failed = -1, int warning = -1);

// A query identifier as the lab reads it (bounded walker; values trimmed, at most 64 characters each).
struct Identifier {
  std::string level, patient_id, patient_name, study_uid;
  bool ok = false;
};
Identifier parse_identifier(std::span<const std::uint8_t> data, bool explicit_vr);
// One STUDY-level match (the lab's synthetic patients only).
std::vector<std::uint8_t> study_match(const std::string& patient_name, const std::string& patient_id,
                                      const std::string& study_uid, const std::string& study_date, bool explicit_vr);

// "success", "pending", "cancel", "warning" or "failure" (PS3.7 Annex C).
// The category of a DIMSE status (PS3.7 Annex C).
enum class Category : std::uint8_t { success, pending, cancel, warning, failure };
Category status_category(std::uint16_t status);
const char* category_name(Category c);  // "success", "pending", "cancel", "warning", "failure"

}  // namespace dg::dicom::dimse
