// Transfer syntaxes (PS3.5 section 10, PS3.6 Table A-1): how a dataset after the File Meta group is encoded.
#pragma once

#include <string_view>

namespace dg::dicom {

struct TransferSyntax {
  std::string_view uid;
  std::string_view name;
  bool known = false;         // listed in PS3.6 Table A-1 (the walker still tries unknown ones as explicit LE)
  bool explicit_vr = true;
  bool big_endian = false;
  bool deflated = false;      // dataset is a raw deflate stream (1.2.840.10008.1.2.1.99 and friends)
  bool encapsulated = false;  // pixel data in fragments (JPEG, RLE, ...)
};

inline constexpr TransferSyntax kImplicitLittle{"1.2.840.10008.1.2", "Implicit VR Little Endian", true, false};
inline constexpr TransferSyntax kExplicitLittle{"1.2.840.10008.1.2.1", "Explicit VR Little Endian", true, true};
inline constexpr TransferSyntax kExplicitBig{"1.2.840.10008.1.2.2", "Explicit VR Big Endian", true, true, true};

// Looks up a UID (trailing NUL/space padding ignored). Unknown UIDs give known=false, an empty uid,
// explicit LE, encapsulated (how most unlisted syntaxes are encoded).
TransferSyntax transfer_syntax(std::string_view uid);

}  // namespace dg::dicom
