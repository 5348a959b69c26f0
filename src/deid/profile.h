// PS3.15 Table E.1-1 (the Basic Application Level Confidentiality Profile and its option columns), compiled in
// from data/deid/, and the one rule that turns a row and the options chosen into one action for an attribute.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deid/iod_types.h"
#include "dicom/tag.h"

namespace dg::deid {

// What happens to one attribute (PS3.15 E.1.1). Compound codes of the table are resolved to one of these.
enum class Action : std::uint8_t {
  keep,     // K
  remove,   // X
  empty,    // Z: zero length (a sequence with no items)
  dummy,    // D: a dummy value of the attribute's VR, carrying no input text
  clean,    // C: a value of the same meaning with nothing identifying: a dummy, or a shifted date (see docs/deid.md)
  uid,      // U: a keyed UID (pseudonym.h)
};
const char* action_name(Action a);  // "keep", "remove", ...

// The options of PS3.15 E.3 that the table has a column for (Clean Pixel Data and Clean Recognizable Visual
// Features are the CLI's --burned-in).
struct Options {
  bool retain_safe_private = false;
  bool retain_uids = false;
  bool retain_device_identity = false;
  bool retain_institution_identity = false;
  bool retain_patient_characteristics = false;
  bool retain_long_full_dates = false;
  bool retain_long_modified_dates = false;
  bool clean_descriptors = false;
  bool clean_structured_content = false;
  bool clean_graphics = false;
  friend bool operator==(const Options&, const Options&) = default;
};
// The flag names of the options set ("retain-uids", ...), in the order of Options.
std::vector<std::string> option_names(const Options& o);

// One row of Table E.1-1 with its cells as the table writes them ("" when the option column is empty).
struct Row {
  std::string tag_text;  // "(0010,0010)", "(50XX,XXXX)", "(GGGG,EEEE) WHERE GGGG IS ODD"
  std::string name;
  std::string basic;     // "X", "X/Z/D", ...
  std::string safe_private, uids, device, institution, patient_chars, full_dates, modified_dates, descriptors,
      structured, graphics;
};

// The table, parsed once (thread-safe) from the embedded copy.
const std::vector<Row>& table();
// The row for a tag: an exact row, else the pattern rows (curves (50xx,xxxx) for even groups 5000-501E, overlay
// data (60xx,3000) and comments (60xx,4000) for even groups 6000-601E, private attributes for odd groups).
// nullptr when the table does not list the tag (it is then kept).
const Row* row_for(dicom::Tag t);

// Resolves a cell ("X/Z/U*" ...). A compound code is resolved by the attribute's Type in the IOD of the instance's
// SOP class (iod_types.h, PS3.3 as GDCM ships it): Type 1 or 1C -> D (or U where U is one of the choices), Type 2
// or 2C -> Z, Type 3 -> X, each when the code offers it. Without a Type (an unknown SOP class, an attribute inside
// a sequence), conservatively: a compound with D becomes D (a Type 1 attribute stays present), X/Z becomes Z,
// X/Z/U* becomes U.
Action resolve(std::string_view code, AttributeType type = AttributeType::unknown);

// The action for a tag under the options. An option column that has a cell for the row and whose option is
// chosen overrides the basic profile; when several chosen options have a cell, K wins over C, and C over the
// others. Tags the table does not list are kept (private tags are rows of the table).
Action action_for(dicom::Tag t, const Options& o, AttributeType type = AttributeType::unknown);

}  // namespace dg::deid
