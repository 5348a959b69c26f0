// Reading a DICOM Part 10 file (PS3.10 7.1): the 128-byte preamble, "DICM", the File Meta group, the transfer
// syntax it names, where the dataset starts and how it is really encoded, and the inflated bytes of a deflated
// dataset. Bounded and exception-free like the walker it is built on: it only finds things and reports what it
// met; what is wrong with a file is for the caller's checks to say.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dicom/uids.h"
#include "dicom/walker.h"
#include "util/inflate.h"

namespace dg::dicom::part10 {

inline constexpr std::size_t kPreambleSize = 128;
inline constexpr std::uint64_t kMetaOffset = kPreambleSize + 4;  // the File Meta group follows "DICM"

// "DICM" at offset 128.
bool has_marker(std::span<const std::uint8_t> file);
// The first 128 bytes (empty when the file is shorter).
std::span<const std::uint8_t> preamble(std::span<const std::uint8_t> file);

// The File Meta group as a walk found it. Values are the first copy of each element, trailing NUL and space
// removed, at most 256 characters (version: at most 8 bytes).
struct FileMeta {
  bool explicit_vr = true;     // false: the group is not explicit VR little endian and was walked as implicit VR
  WalkResult walk;             // offsets are file offsets; walk.end is relative to kMetaOffset
  std::uint64_t dataset_start = kMetaOffset;  // file offset just past the group
  std::vector<Element> elements;               // the group's top-level elements (the first kMaxElements)
  static constexpr std::size_t kMaxElements = 256;

  bool has_group_length = false, has_version = false, has_sop_class = false, has_sop_instance = false,
       has_transfer_syntax = false;
  std::vector<std::uint8_t> version;                        // (0002,0001)
  std::string sop_class, sop_instance, transfer_syntax_uid;  // (0002,0002), (0002,0003), (0002,0010)
  TransferSyntax transfer_syntax;  // the lookup of transfer_syntax_uid (known == false when missing or unknown)
  bool transfer_syntax_usable() const { return has_transfer_syntax && transfer_syntax.known; }
};

// Walks the File Meta group of `file` (a Part 10 file held whole; has_marker() is the caller's to check) up to the
// first element of another group. `also`, when given, sees every element of the walk too.
FileMeta read_meta(std::span<const std::uint8_t> file, Visitor* also = nullptr);

// How the bytes of a dataset look encoded, from its first element header (for a dataset without a usable
// transfer syntax).
Encoding sniff_encoding(std::span<const std::uint8_t> dataset);
// The encoding the File Meta group declares for the dataset, or the one sniffed when it declares none usable.
Encoding declared_encoding(const FileMeta& meta, std::span<const std::uint8_t> dataset);
// "explicit VR little endian" ...
std::string encoding_name(Encoding e);

// A fatal stop that reads as the end of the dataset with something else after it: after the pixel data, or at a
// tag that goes backwards, at a top-level element boundary. A header cut short is the data ending early instead.
bool ends_at_trailing_data(const WalkResult& w);

// The visitor for one walk of a dataset in encoding `enc`; attempt 0 is the declared encoding. The caller owns it
// and keeps it as long as the walk result is of use.
using VisitorFor = std::function<Visitor&(std::size_t attempt, Encoding enc)>;

struct DatasetWalk {
  WalkResult walk;
  Encoding encoding;        // what the dataset was walked as in the end
  std::size_t attempt = 0;  // whose visitor saw that walk
  bool fallback = false;    // not the declared encoding: the bytes say otherwise (attempt > 0)
};

// Walks a dataset (file offset `origin`) in the encoding declared. Some writers label a dataset with the wrong
// transfer syntax (implicit VR labelled explicit, little endian labelled big); readers such as pydicom and DCMTK
// fall back to what the bytes are. When the declared walk stops on a fatal problem that is neither a limit nor the
// end of the dataset, the other encodings are walked in turn (implicit LE, explicit LE, explicit BE), each with a
// visitor of its own, and the first one taken that gets further and reaches the end (or data after the dataset).
DatasetWalk walk_dataset(std::span<const std::uint8_t> dataset, std::uint64_t origin, Encoding declared,
                         const VisitorFor& visitor);

// A file without preamble and File Meta group can still be a dataset: one that starts with group 0002 or 0008 and
// walks (to the end, or to a clean stop at an element boundary) for at least three elements in one of explicit LE,
// implicit LE or explicit BE, tried in that order. Empty when none does.
std::optional<DatasetWalk> walk_raw_dataset(std::span<const std::uint8_t> file, const VisitorFor& visitor);

// The inflated bytes of a deflated dataset, pulled on demand and never held whole, up to a cap.
class InflateStream : public ByteStream {
 public:
  InflateStream(std::span<const std::uint8_t> compressed, std::uint64_t cap);
  std::size_t read(std::span<std::uint8_t> out) override;
  const util::Inflater& inflater() const { return z_; }
  bool limit() const { return limit_; }  // the stream goes on past the cap
  std::uint64_t produced() const { return std::min(z_.produced(), cap_); }

 private:
  util::Inflater z_;
  std::uint64_t cap_;
  bool limit_ = false;
};

// A deflated dataset (Deflated Explicit VR Little Endian and friends: a raw deflate stream after the File Meta
// group), walked as it inflates through a window of bounded size: memory stays at the window whatever the stream
// inflates to (a decompression bomb costs CPU up to the cap, never memory). Offsets are in the inflated stream.
class DeflatedDataset {
 public:
  DeflatedDataset(std::span<const std::uint8_t> compressed, std::uint64_t max_inflated, std::size_t window);
  DeflatedDataset(const DeflatedDataset&) = delete;
  DeflatedDataset& operator=(const DeflatedDataset&) = delete;

  WalkResult walk(Visitor& v, const Limits& limits = {});
  StreamWindow& window() { return win_; }
  const InflateStream& stream() const { return in_; }
  // The walk ran out of data because the inflation stopped at its cap: the last issue is the cap's doing.
  bool cut_by_cap(const WalkResult& w) const;
  // Inflates the rest (up to the cap), so that how the stream ends is known.
  void drain() { win_.skip_to(~std::uint64_t{0}); }

  // Once drained:
  bool complete() const;  // the deflate stream ended, within the cap
  bool corrupt() const;
  std::uint64_t consumed() const { return in_.inflater().consumed(); }  // compressed bytes the stream took
  std::uint64_t inflated() const { return in_.produced(); }
  // After a complete stream, the compressed bytes that follow it: none, a gzip-style trailer (CRC-32 and size
  // of the inflated data, which some writers leave: benign), or other data (from offset consumed()).
  enum class After { nothing, gzip_trailer, data };
  After after() const;

 private:
  std::span<const std::uint8_t> compressed_;
  InflateStream in_;
  StreamWindow win_;
};

}  // namespace dg::dicom::part10
