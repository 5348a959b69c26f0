// Builds DICOM bytes for tests: Part 10 files, datasets, polyglots and malformed variants.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dicom/tag.h"
#include "dicom/vr.h"
#include "dicom/writer.h"

namespace dgtest {

using Bytes = std::vector<std::uint8_t>;

inline void put16(Bytes& b, std::uint16_t v, bool be = false) {
  if (be) { b.push_back(v >> 8); b.push_back(v & 0xFF); }
  else { b.push_back(v & 0xFF); b.push_back(v >> 8); }
}
inline void put32(Bytes& b, std::uint32_t v, bool be = false) {
  if (be) { put16(b, v >> 16, true); put16(b, v & 0xFFFF, true); }
  else { put16(b, v & 0xFFFF); put16(b, v >> 16); }
}
inline void append(Bytes& b, const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); }
inline Bytes str(const std::string& s, char pad = ' ') {
  Bytes b(s.begin(), s.end());
  if (b.size() & 1) b.push_back(static_cast<std::uint8_t>(pad));
  return b;
}

// Elements are encoded by the one writer (dg::dicom::ElementWriter). Builders that make deliberately broken bytes
// (a forced length, an odd length, a lone delimiter) write a header and then the value bytes as they are.
inline constexpr std::uint32_t kNoForcedLength = 0xFFFFFFF0u;
inline std::span<const std::uint8_t> span_of(const Bytes& b) { return {b.data(), b.size()}; }
inline Bytes element_bytes(dg::dicom::Encoding enc, dg::dicom::Tag t, dg::dicom::VR vr, const Bytes& value,
                           std::uint32_t forced_len) {
  return dg::dicom::encode(enc, [&](dg::dicom::ElementWriter& w) {
    if (forced_len == kNoForcedLength && value.size() % 2 == 0) {
      w.element(t, vr, span_of(value));
      return;
    }
    w.header(t, vr, forced_len != kNoForcedLength ? forced_len : static_cast<std::uint32_t>(value.size()));
    w.raw(span_of(value));
  });
}

// Explicit VR element (little endian unless be): the value as given (no padding), its length unless forced_len.
inline Bytes el(std::uint16_t g, std::uint16_t e, const char* vr, const Bytes& value, bool be = false,
                std::uint32_t forced_len = kNoForcedLength) {
  return element_bytes(be ? dg::dicom::kExplicitBig : dg::dicom::kExplicitLittle, dg::dicom::tag(g, e),
                       dg::dicom::vr(std::string_view(vr, 2)), value, forced_len);
}
// Implicit VR little endian element.
inline Bytes iel(std::uint16_t g, std::uint16_t e, const Bytes& value, std::uint32_t forced_len = kNoForcedLength) {
  return element_bytes(dg::dicom::kImplicitLittle, dg::dicom::tag(g, e), 0, value, forced_len);
}
// An item holding `content` (encoded elements), with its length or undefined length and an item delimiter.
inline Bytes item(const Bytes& content, bool undefined = false) {
  return dg::dicom::encode(dg::dicom::kExplicitLittle, [&](dg::dicom::ElementWriter& w) {
    w.begin_item(undefined ? dg::dicom::Length::undefined : dg::dicom::Length::defined);
    w.raw(span_of(content));
    w.end_item();
  });
}
// A lone delimiter, wherever a test puts it.
inline Bytes delimiter(dg::dicom::Tag t) {
  return dg::dicom::encode(dg::dicom::kExplicitLittle, [&](dg::dicom::ElementWriter& w) { w.header(t, 0, 0); });
}
inline Bytes seq_delim() { return delimiter(dg::dicom::kSeqDelim); }
inline Bytes item_delim() { return delimiter(dg::dicom::kItemDelim); }
// (gggg,0000) Group Length computed over `body` (elements of group g, already encoded), then `body`.
inline Bytes grouped(std::uint16_t g, const Bytes& body, dg::dicom::Encoding enc = dg::dicom::kExplicitLittle) {
  return dg::dicom::encode(enc, [&](dg::dicom::ElementWriter& w) {
    w.begin_group(g);
    w.raw(span_of(body));
    w.end_group();
  });
}
// A command set of US elements of group 0000 (implicit VR little endian, no group length), as scripted servers
// answer: {element, value} in the order given.
inline Bytes command_fields(std::initializer_list<std::pair<std::uint16_t, std::uint16_t>> fields) {
  return dg::dicom::encode(dg::dicom::kImplicitLittle, [&](dg::dicom::ElementWriter& w) {
    for (const auto& [e, v] : fields) w.us(dg::dicom::tag(0, e), v);
  });
}

inline const std::string kSopClass = "1.2.840.10008.5.1.4.1.1.7";
inline const std::string kSopInstance = "1.2.826.0.1.3680043.10.1234.1";

inline Bytes meta(const std::string& ts = "1.2.840.10008.1.2.1", const std::string& cls = kSopClass,
                  const std::string& inst = kSopInstance) {
  using namespace dg::dicom;
  return encode(kExplicitLittle, [&](ElementWriter& w) {
    w.begin_group(0x0002);
    w.element(tag(2, 1), kOB, span_of(Bytes{0, 1}));
    w.element(tag(2, 2), kUI, cls);
    w.element(tag(2, 3), kUI, inst);
    w.element(tag(2, 0x10), kUI, ts);
    w.element(tag(2, 0x12), kUI, "1.2.3.4");
    w.end_group();
  });
}

// A small clean explicit VR LE dataset with a patient name and native pixel data.
inline Bytes dataset(const Bytes& extra_before_pixels = {}, const std::string& cls = kSopClass,
                     const std::string& inst = kSopInstance) {
  Bytes d;
  append(d, el(8, 0x16, "UI", str(cls, '\0')));
  append(d, el(8, 0x18, "UI", str(inst, '\0')));
  append(d, el(0x10, 0x10, "PN", str("TEST^PATIENT")));
  append(d, el(0x28, 0x10, "US", Bytes{4, 0}));
  append(d, el(0x28, 0x11, "US", Bytes{4, 0}));
  append(d, extra_before_pixels);
  append(d, el(0x7FE0, 0x10, "OW", Bytes(32, 0x11)));
  return d;
}

inline Bytes part10(const Bytes& preamble_bytes, const Bytes& ds, const Bytes& m = meta()) {
  Bytes f(132, 0);
  std::copy_n(preamble_bytes.begin(), std::min<std::size_t>(preamble_bytes.size(), 128), f.begin());
  f[128] = 'D', f[129] = 'I', f[130] = 'C', f[131] = 'M';
  append(f, m);
  append(f, ds);
  return f;
}

}  // namespace dgtest
