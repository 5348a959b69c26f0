// Value representations (PS3.5 6.2) and their encoding rules.
#pragma once

#include <cstdint>
#include <string_view>

namespace dg::dicom {

// Two ASCII characters packed big-endian, e.g. 'O'<<8|'B'. 0 means "unknown".
using VR = std::uint16_t;

constexpr VR vr(const char (&s)[3]) { return static_cast<VR>((s[0] << 8) | s[1]); }
constexpr VR vr(std::string_view s) { return s.size() == 2 ? static_cast<VR>((s[0] << 8) | s[1]) : 0; }

inline constexpr VR kOB = vr("OB"), kOW = vr("OW"), kUN = vr("UN"), kSQ = vr("SQ"), kUT = vr("UT"), kUL = vr("UL"),
                    kUI = vr("UI"), kUC = vr("UC"), kUR = vr("UR"), kOD = vr("OD"), kOF = vr("OF"), kOL = vr("OL"),
                    kOV = vr("OV"), kSV = vr("SV"), kUV = vr("UV"), kLO = vr("LO"), kCS = vr("CS");

namespace detail {
// 26x26 bit table over the two upper-case letters of the 34 VRs of PS3.5 Table 6.2-1.
struct KnownVrTable {
  std::uint32_t rows[26] = {};
  constexpr KnownVrTable() {
    constexpr const char* kAll[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
                                    "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
                                    "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
    for (const char* v : kAll) rows[v[0] - 'A'] |= 1u << (v[1] - 'A');
  }
};
inline constexpr KnownVrTable kKnownVrs;
}  // namespace detail

// One of the 34 VRs of PS3.5 Table 6.2-1 (one table lookup: called for every element header).
constexpr bool is_known_vr(VR v) {
  const unsigned a = static_cast<unsigned>(v >> 8) - 'A', b = static_cast<unsigned>(v & 0xFF) - 'A';
  return a < 26 && b < 26 && (detail::kKnownVrs.rows[a] >> b & 1u);
}
// VRs with a 2-byte reserved field and a 4-byte length in explicit VR encodings (PS3.5 7.1.2).
constexpr bool has_long_length(VR v) {
  switch (v) {
    case vr("OB"): case vr("OD"): case vr("OF"): case vr("OL"): case vr("OV"): case vr("OW"): case vr("SQ"):
    case vr("SV"): case vr("UC"): case vr("UN"): case vr("UR"): case vr("UT"): case vr("UV"):
      return true;
    default:
      return false;
  }
}
// The byte that pads a value to even length (PS3.5 6.2): a space for the text VRs, NUL for UI and binary VRs.
constexpr std::uint8_t padding(VR v) {
  switch (v) {
    case vr("AE"): case vr("AS"): case vr("CS"): case vr("DA"): case vr("DS"): case vr("DT"): case vr("IS"):
    case vr("LO"): case vr("LT"): case vr("PN"): case vr("SH"): case vr("ST"): case vr("TM"): case vr("UC"):
    case vr("UR"): case vr("UT"):
      return ' ';
    default:
      return 0;
  }
}
// Binary/opaque VRs whose value may hide arbitrary bytes.
bool is_opaque(VR v);
// Writes the two characters, or "??" for an unprintable code, into out (3 bytes incl. NUL).
void vr_name(VR v, char out[3]);

}  // namespace dg::dicom
