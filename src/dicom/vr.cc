#include "dicom/vr.h"

#include <array>

namespace dg::dicom {

namespace {
constexpr std::array<VR, 34> kKnown = {
    vr("AE"), vr("AS"), vr("AT"), vr("CS"), vr("DA"), vr("DS"), vr("DT"), vr("FD"), vr("FL"), vr("IS"), vr("LO"), vr("LT"),
    vr("OB"), vr("OD"), vr("OF"), vr("OL"), vr("OV"), vr("OW"), vr("PN"), vr("SH"), vr("SL"), vr("SQ"), vr("SS"), vr("ST"),
    vr("SV"), vr("TM"), vr("UC"), vr("UI"), vr("UL"), vr("UN"), vr("UR"), vr("US"), vr("UT"), vr("UV")};
}

namespace {
// 26x26 bit table over the two upper-case letters: one lookup per element header.
struct KnownTable {
  std::uint32_t rows[26] = {};
  constexpr KnownTable() {
    for (VR v : kKnown) rows[(v >> 8) - 'A'] |= 1u << ((v & 0xFF) - 'A');
  }
};
constexpr KnownTable kTable;
}  // namespace

bool is_known_vr(VR v) {
  const unsigned a = (v >> 8) - 'A', b = (v & 0xFF) - 'A';
  return a < 26 && b < 26 && (kTable.rows[a] >> b & 1u);
}

bool has_long_length(VR v) {
  switch (v) {
    case kOB: case kOD: case kOF: case kOL: case kOV: case kOW: case kSQ: case kSV: case kUC: case kUN: case kUR:
    case kUT: case kUV:
      return true;
    default:
      return false;
  }
}

bool is_opaque(VR v) {
  switch (v) {
    case kOB: case kOD: case kOF: case kOL: case kOV: case kOW: case kUN: case kUT:
      return true;
    default:
      return false;
  }
}

void vr_name(VR v, char out[3]) {
  auto printable = [](int c) { return c >= 'A' && c <= 'Z'; };
  int a = (v >> 8) & 0xFF, b = v & 0xFF;
  out[0] = printable(a) ? static_cast<char>(a) : '?';
  out[1] = printable(b) ? static_cast<char>(b) : '?';
  out[2] = 0;
}

}  // namespace dg::dicom
