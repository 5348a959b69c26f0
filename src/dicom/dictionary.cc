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

namespace {
// Open-addressing hash of the exact entries (built once): one or two probes per lookup instead of a
// 13-step binary search on every element header.
struct Index {
  static constexpr std::size_t kSize = 16384;  // > 3x the entries: short probe chains
  std::uint16_t slot[kSize];                   // entry index + 1; 0 = empty
  Index() {
    std::fill(std::begin(slot), std::end(slot), std::uint16_t{0});
    for (std::size_t i = 0; i < std::size(kExact); ++i) {
      std::size_t h = hash(kExact[i].tag);
      while (slot[h]) h = (h + 1) & (kSize - 1);
      slot[h] = static_cast<std::uint16_t>(i + 1);
    }
  }
  static std::size_t hash(Tag t) { return (t * 2654435761u) >> 18 & (kSize - 1); }
  const DictEntry* find(Tag t) const {
    for (std::size_t h = hash(t); slot[h]; h = (h + 1) & (kSize - 1))
      if (kExact[slot[h] - 1].tag == t) return &kExact[slot[h] - 1];
    return nullptr;
  }
};
static_assert(std::size(kExact) < 65535);
const Index& index() {
  static const Index idx;
  return idx;
}
}  // namespace

const DictEntry* lookup(Tag t) {
  if (const DictEntry* e = index().find(t)) return e;
  for (const auto& m : kMasked)
    if ((t & m.mask) == m.value) return &m.entry;
  return nullptr;
}

VR implicit_vr(Tag t) {
  if (element(t) == 0x0000) return kUL;  // group length
  const DictEntry* e = lookup(t);
  if (!e) return kUN;
  return e->codes[0];
}

}  // namespace dg::dicom
