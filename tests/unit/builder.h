// Builds DICOM bytes for tests: Part 10 files, datasets, polyglots and malformed variants.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

// Explicit VR element (little endian unless be).
inline Bytes el(std::uint16_t g, std::uint16_t e, const char* vr, const Bytes& value, bool be = false,
                std::uint32_t forced_len = 0xFFFFFFF0u) {
  Bytes b;
  put16(b, g, be);
  put16(b, e, be);
  b.push_back(vr[0]);
  b.push_back(vr[1]);
  static const char* longs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
  bool lng = false;
  for (const char* l : longs) lng |= std::strncmp(l, vr, 2) == 0;
  const std::uint32_t len = forced_len != 0xFFFFFFF0u ? forced_len : static_cast<std::uint32_t>(value.size());
  if (lng) { put16(b, 0, be); put32(b, len, be); }
  else put16(b, static_cast<std::uint16_t>(len), be);
  append(b, value);
  return b;
}
// Implicit VR little endian element.
inline Bytes iel(std::uint16_t g, std::uint16_t e, const Bytes& value, std::uint32_t forced_len = 0xFFFFFFF0u) {
  Bytes b;
  put16(b, g);
  put16(b, e);
  put32(b, forced_len != 0xFFFFFFF0u ? forced_len : static_cast<std::uint32_t>(value.size()));
  append(b, value);
  return b;
}
inline Bytes item(const Bytes& content, bool undefined = false) {
  Bytes b;
  put16(b, 0xFFFE); put16(b, 0xE000);
  put32(b, undefined ? 0xFFFFFFFFu : static_cast<std::uint32_t>(content.size()));
  append(b, content);
  if (undefined) { put16(b, 0xFFFE); put16(b, 0xE00D); put32(b, 0); }
  return b;
}
inline Bytes seq_delim() { Bytes b; put16(b, 0xFFFE); put16(b, 0xE0DD); put32(b, 0); return b; }
inline Bytes item_delim() { Bytes b; put16(b, 0xFFFE); put16(b, 0xE00D); put32(b, 0); return b; }

inline const std::string kSopClass = "1.2.840.10008.5.1.4.1.1.7";
inline const std::string kSopInstance = "1.2.826.0.1.3680043.10.1234.1";

inline Bytes meta(const std::string& ts = "1.2.840.10008.1.2.1", const std::string& cls = kSopClass,
                  const std::string& inst = kSopInstance) {
  Bytes body;
  append(body, el(2, 1, "OB", Bytes{0, 1}));
  append(body, el(2, 2, "UI", str(cls, '\0')));
  append(body, el(2, 3, "UI", str(inst, '\0')));
  append(body, el(2, 0x10, "UI", str(ts, '\0')));
  append(body, el(2, 0x12, "UI", str("1.2.3.4", '\0')));
  Bytes b;
  Bytes gl;
  put32(gl, static_cast<std::uint32_t>(body.size()));
  append(b, el(2, 0, "UL", gl));
  append(b, body);
  return b;
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
  Bytes f(128, 0);
  std::copy_n(preamble_bytes.begin(), std::min<std::size_t>(preamble_bytes.size(), 128), f.begin());
  f.insert(f.end(), {'D', 'I', 'C', 'M'});
  append(f, m);
  append(f, ds);
  return f;
}

}  // namespace dgtest
