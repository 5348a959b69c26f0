#include "dicom/uids.h"

#include <algorithm>
#include <array>

namespace dg::dicom {

namespace uids {

namespace {
// In the order `scan` proposes them (its presentation context IDs follow this order).
constexpr SopClass kSopClasses[] = {
    {kVerification, "verification"},
    {kStudyRootFind, "study-root-find"},
    {kStudyRootMove, "study-root-move"},
    {kStudyRootGet, "study-root-get"},
    {kPatientRootFind, "patient-root-find"},
    {kPatientRootMove, "patient-root-move"},
    {kPatientRootGet, "patient-root-get"},
    {kWorklistFind, "modality-worklist-find"},
    {kStorageCommitment, "storage-commitment"},
    {kMpps, "mpps"},
    {kCtStorage, "ct-storage"},
    {kMrStorage, "mr-storage"},
    {kCrStorage, "cr-storage"},
    {kDxStorage, "dx-storage"},
    {kMgStorage, "mg-storage"},
    {kUsStorage, "us-storage"},
    {kSecondaryCapture, "sc-storage"},
    {kXaStorage, "xa-storage"},
    {kNmStorage, "nm-storage"},
    {kPetStorage, "pet-storage"},
    {kBasicTextSr, "basic-text-sr-storage"},
    {kEncapsulatedPdf, "encapsulated-pdf-storage"},
    {kEncapsulatedCda, "encapsulated-cda-storage"},
};
}  // namespace

std::span<const SopClass> sop_classes() { return kSopClasses; }

const char* sop_class_name(std::string_view uid) {
  for (const SopClass& c : kSopClasses)
    if (uid == c.uid) return c.name;
  return nullptr;
}

bool is_storage(std::string_view uid) { return uid.starts_with(kStoragePrefix); }

std::string value(std::span<const std::uint8_t> v) {
  std::string s(reinterpret_cast<const char*>(v.data()), std::min<std::size_t>(v.size(), 256));
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace uids

namespace {
struct Row {
  std::string_view uid, name;
  bool explicit_vr, big_endian, deflated, encapsulated;
};
// PS3.6 Table A-1 (2024b), transfer syntaxes only.
constexpr std::array kRows = {
    Row{uids::kImplicitLE, "Implicit VR Little Endian", false, false, false, false},
    Row{uids::kExplicitLE, "Explicit VR Little Endian", true, false, false, false},
    Row{"1.2.840.10008.1.2.1.98", "Encapsulated Uncompressed Explicit VR Little Endian", true, false, false, true},
    Row{uids::kDeflatedLE, "Deflated Explicit VR Little Endian", true, false, true, false},
    Row{uids::kExplicitBE, "Explicit VR Big Endian (retired)", true, true, false, false},
    Row{uids::kJpegBaseline, "JPEG Baseline (Process 1)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.52", "JPEG Extended (Process 3 & 5) (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.53", "JPEG Spectral Selection (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.54", "JPEG Spectral Selection (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.55", "JPEG Full Progression (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.56", "JPEG Full Progression (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.57", "JPEG Lossless (Process 14)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.58", "JPEG Lossless (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.59", "JPEG Extended Hierarchical (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.60", "JPEG Extended Hierarchical (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.61", "JPEG Extended Hierarchical (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.62", "JPEG Extended Hierarchical (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.63", "JPEG Full Progression Hierarchical (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.64", "JPEG Full Progression Hierarchical (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.65", "JPEG Lossless Hierarchical (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.66", "JPEG Lossless Hierarchical (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.70", "JPEG Lossless SV1", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.91", "JPEG 2000", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2 Multi-component Lossless", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.94", "JPIP Referenced", true, false, false, false},
    Row{"1.2.840.10008.1.2.4.95", "JPIP Referenced Deflate", true, false, true, false},
    Row{"1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.100.1", "Fragmentable MPEG2 MP@ML", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.101", "MPEG2 Main Profile / High Level", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.101.1", "Fragmentable MPEG2 MP@HL", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264 High Profile", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.102.1", "Fragmentable MPEG-4 AVC/H.264 HiP", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.103", "MPEG-4 AVC/H.264 BD-compatible", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.103.1", "Fragmentable MPEG-4 AVC/H.264 BD", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.104", "MPEG-4 AVC/H.264 High Profile 2D", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.104.1", "Fragmentable MPEG-4 AVC/H.264 2D", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.105", "MPEG-4 AVC/H.264 High Profile 3D", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.105.1", "Fragmentable MPEG-4 AVC/H.264 3D", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.106", "MPEG-4 AVC/H.264 Stereo High Profile", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.106.1", "Fragmentable MPEG-4 AVC/H.264 Stereo", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.107", "HEVC/H.265 Main Profile", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.108", "HEVC/H.265 Main 10 Profile", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.110", "JPEG XL Lossless", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.112", "JPEG XL", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Lossless", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 RPCL Lossless", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000", true, false, false, true},
    Row{"1.2.840.10008.1.2.4.204", "JPIP HTJ2K Referenced", true, false, false, false},
    Row{"1.2.840.10008.1.2.4.205", "JPIP HTJ2K Referenced Deflate", true, false, true, false},
    Row{"1.2.840.10008.1.2.5", "RLE Lossless", true, false, false, true},
    Row{"1.2.840.10008.1.2.6.1", "RFC 2557 MIME encapsulation (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.6.2", "XML Encoding (retired)", true, false, false, true},
    Row{"1.2.840.10008.1.2.7.1", "SMPTE ST 2110-20 Uncompressed Progressive Active Video", true, false, false, false},
    Row{"1.2.840.10008.1.2.7.2", "SMPTE ST 2110-20 Uncompressed Interlaced Active Video", true, false, false, false},
    Row{"1.2.840.10008.1.2.7.3", "SMPTE ST 2110-30 PCM Digital Audio", true, false, false, false},
    Row{"1.2.840.10008.1.20", "Papyrus 3 Implicit VR Little Endian (retired)", false, false, false, false},
};
}  // namespace

TransferSyntax transfer_syntax(std::string_view uid) {
  while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.remove_suffix(1);
  for (const Row& r : kRows)
    if (r.uid == uid) return {r.uid, r.name, true, r.explicit_vr, r.big_endian, r.deflated, r.encapsulated};
  return {{}, "unknown", false, true, false, false, true};  // uid empty: the caller owns the text
}

}  // namespace dg::dicom
