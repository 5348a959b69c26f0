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

// One of the 34 VRs of PS3.5 Table 6.2-1.
bool is_known_vr(VR v);
// VRs with a 2-byte reserved field and a 4-byte length in explicit VR encodings (PS3.5 7.1.2).
bool has_long_length(VR v);
// Binary/opaque VRs whose value may hide arbitrary bytes.
bool is_opaque(VR v);
// Writes the two characters, or "??" for an unprintable code, into out (3 bytes incl. NUL).
void vr_name(VR v, char out[3]);

}  // namespace dg::dicom
