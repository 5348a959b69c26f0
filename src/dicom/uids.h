// The UIDs of the standard that the code names (PS3.6 Annex A): SOP classes, transfer syntaxes and the
// application context, each defined once here, and the transfer syntax table (PS3.6 Table A-1) with its lookup.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace dg::dicom {

namespace uids {

// Application context (PS3.7 A.2.1).
inline constexpr const char* kApplicationContext = "1.2.840.10008.3.1.1.1";

// Service classes (PS3.4).
inline constexpr const char* kVerification = "1.2.840.10008.1.1";
inline constexpr const char* kStudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
inline constexpr const char* kStudyRootMove = "1.2.840.10008.5.1.4.1.2.2.2";
inline constexpr const char* kStudyRootGet = "1.2.840.10008.5.1.4.1.2.2.3";
inline constexpr const char* kPatientRootFind = "1.2.840.10008.5.1.4.1.2.1.1";
inline constexpr const char* kPatientRootMove = "1.2.840.10008.5.1.4.1.2.1.2";
inline constexpr const char* kPatientRootGet = "1.2.840.10008.5.1.4.1.2.1.3";
inline constexpr const char* kWorklistFind = "1.2.840.10008.5.1.4.31";
inline constexpr const char* kStorageCommitment = "1.2.840.10008.1.20.1";
inline constexpr const char* kMpps = "1.2.840.10008.3.1.2.3.3";

// Storage SOP classes (PS3.4 B.5): every one starts with kStoragePrefix.
inline constexpr std::string_view kStoragePrefix = "1.2.840.10008.5.1.4.1.1.";
inline constexpr const char* kCtStorage = "1.2.840.10008.5.1.4.1.1.2";
inline constexpr const char* kMrStorage = "1.2.840.10008.5.1.4.1.1.4";
inline constexpr const char* kCrStorage = "1.2.840.10008.5.1.4.1.1.1";
inline constexpr const char* kDxStorage = "1.2.840.10008.5.1.4.1.1.1.1";      // For Presentation
inline constexpr const char* kMgStorage = "1.2.840.10008.5.1.4.1.1.1.2";      // For Presentation
inline constexpr const char* kUsStorage = "1.2.840.10008.5.1.4.1.1.6.1";
inline constexpr const char* kSecondaryCapture = "1.2.840.10008.5.1.4.1.1.7";
inline constexpr const char* kXaStorage = "1.2.840.10008.5.1.4.1.1.12.1";
inline constexpr const char* kNmStorage = "1.2.840.10008.5.1.4.1.1.20";
inline constexpr const char* kPetStorage = "1.2.840.10008.5.1.4.1.1.128";
inline constexpr const char* kBasicTextSr = "1.2.840.10008.5.1.4.1.1.88.11";
inline constexpr const char* kEncapsulatedPdf = "1.2.840.10008.5.1.4.1.1.104.1";
inline constexpr const char* kEncapsulatedCda = "1.2.840.10008.5.1.4.1.1.104.2";

// Transfer syntaxes named in the code (the full list is the table below).
inline constexpr const char* kImplicitLE = "1.2.840.10008.1.2";
inline constexpr const char* kExplicitLE = "1.2.840.10008.1.2.1";
inline constexpr const char* kDeflatedLE = "1.2.840.10008.1.2.1.99";
inline constexpr const char* kExplicitBE = "1.2.840.10008.1.2.2";  // retired
inline constexpr const char* kJpegBaseline = "1.2.840.10008.1.2.4.50";

struct SopClass {
  const char* uid;
  const char* name;  // short, stable: "ct-storage" (scan output uses it)
};
// The SOP classes named above with their short names.
std::span<const SopClass> sop_classes();
// The short name of a SOP class, or nullptr when it is not one of sop_classes().
const char* sop_class_name(std::string_view uid);
bool is_storage(std::string_view uid);

// A UID as a file holds it: trailing NUL and space padding removed, at most 256 characters kept.
std::string value(std::span<const std::uint8_t> v);

}  // namespace uids

// Transfer syntaxes (PS3.5 section 10, PS3.6 Table A-1): how a dataset after the File Meta group is encoded.
struct TransferSyntax {
  std::string_view uid;
  std::string_view name;
  bool known = false;         // listed in PS3.6 Table A-1 (the walker still tries unknown ones as explicit LE)
  bool explicit_vr = true;
  bool big_endian = false;
  bool deflated = false;      // dataset is a raw deflate stream (Deflated Explicit VR Little Endian and friends)
  bool encapsulated = false;  // pixel data in fragments (JPEG, RLE, ...)
};

// Looks up a UID (trailing NUL/space padding ignored). Unknown UIDs give known=false, an empty uid,
// explicit LE, encapsulated (how most unlisted syntaxes are encoded).
TransferSyntax transfer_syntax(std::string_view uid);

}  // namespace dg::dicom
