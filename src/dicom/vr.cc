#include "dicom/vr.h"


namespace dg::dicom {

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
