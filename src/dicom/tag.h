// Data element tags.
#pragma once

#include <cstdint>
#include <string>

namespace dg::dicom {

using Tag = std::uint32_t;  // group << 16 | element

constexpr Tag tag(std::uint16_t g, std::uint16_t e) { return (static_cast<Tag>(g) << 16) | e; }
constexpr std::uint16_t group(Tag t) { return static_cast<std::uint16_t>(t >> 16); }
constexpr std::uint16_t element(Tag t) { return static_cast<std::uint16_t>(t & 0xFFFF); }
constexpr bool is_private(Tag t) { return (group(t) & 1) != 0; }

inline constexpr Tag kItem = tag(0xFFFE, 0xE000), kItemDelim = tag(0xFFFE, 0xE00D), kSeqDelim = tag(0xFFFE, 0xE0DD);
inline constexpr Tag kPixelData = tag(0x7FE0, 0x0010), kFloatPixelData = tag(0x7FE0, 0x0008),
                     kDoubleFloatPixelData = tag(0x7FE0, 0x0009);
inline constexpr Tag kSOPClassUID = tag(0x0008, 0x0016), kSOPInstanceUID = tag(0x0008, 0x0018);
inline constexpr Tag kEncapsulatedDocument = tag(0x0042, 0x0011), kMIMETypeOfEncapsulatedDocument = tag(0x0042, 0x0012);
inline constexpr Tag kDataSetTrailingPadding = tag(0xFFFC, 0xFFFC);

// "(0008,0016)"
std::string tag_string(Tag t);

}  // namespace dg::dicom
