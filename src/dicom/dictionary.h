// The PS3.6 data dictionary: VR and keyword of every standard tag (generated from data/dicom-standard).
#pragma once

#include <string_view>

#include "dicom/tag.h"
#include "dicom/vr.h"

namespace dg::dicom {

struct DictEntry {
  std::uint32_t tag;
  const char* vrs[3];  // allowed VRs ("US or SS" gives two); unused slots are ""
  VR codes[3];         // the same as VR codes; unused slots are 0
  const char* keyword;
  bool retired;
};

// nullptr for private, unknown or group-length tags.
const DictEntry* lookup(Tag t);
// True when the dictionary lists v among the VRs of t.
inline bool dict_allows(const DictEntry& e, VR v) { return v && (e.codes[0] == v || e.codes[1] == v || e.codes[2] == v); }
// The first dictionary VR for implicit VR decoding; UN when the tag is unknown.
VR implicit_vr(Tag t);

}  // namespace dg::dicom
