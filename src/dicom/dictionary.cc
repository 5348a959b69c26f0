#include "dicom/dictionary.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace dg::dicom {

namespace {
struct MaskedEntry {
  std::uint32_t mask;
  std::uint32_t value;
  DictEntry entry;
};
#include "dicom/dictionary_table.inc"
}  // namespace

std::string tag_string(Tag t) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "(%04X,%04X)", group(t), element(t));
  return buf;
}

const DictEntry* lookup(Tag t) {
  auto it = std::lower_bound(std::begin(kExact), std::end(kExact), t,
                             [](const DictEntry& e, Tag x) { return e.tag < x; });
  if (it != std::end(kExact) && it->tag == t) return &*it;
  for (const auto& m : kMasked)
    if ((t & m.mask) == m.value) return &m.entry;
  return nullptr;
}

bool dict_allows(const DictEntry& e, VR v) {
  for (const char* s : e.vrs)
    if (s[0] && vr(std::string_view(s, 2)) == v) return true;
  return false;
}

VR implicit_vr(Tag t) {
  if (element(t) == 0x0000) return kUL;  // group length
  const DictEntry* e = lookup(t);
  if (!e) return kUN;
  return vr(std::string_view(e->vrs[0], 2));
}

}  // namespace dg::dicom
