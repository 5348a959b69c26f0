// The one bounded walker for untrusted DICOM dataset bytes.
//
// Every declared length is checked against the bytes left in its container and in the buffer before it is
// used; nesting depth and element count are capped; nothing is allocated from a declared length. The walker
// never throws for bad input: it reports Issues and stops at the first one it cannot continue past.
// It only computes offsets for values it skips, so pixel data it does not need is never touched (with a
// memory-mapped buffer, those pages are never read).
//
// It walks either bytes held whole (a span: a file read or mapped) or a stream that is never held whole (an
// inflated deflate stream), seen through a window of bounded size: then a value longer than the window is
// given to the visitor by its first bytes only (Element::truncated), and memory stays bounded whatever the
// stream inflates to.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dicom/tag.h"
#include "dicom/vr.h"

namespace dg::dicom {

inline constexpr std::uint32_t kUndefinedLength = 0xFFFFFFFFu;

enum class Problem : std::uint8_t {
  length_past_end,          // a declared length runs past its container or the end of data (fatal)
  truncated_header,         // fewer bytes left than an element header needs (fatal)
  tag_order,                // tags not in ascending order within a dataset or item
  duplicate_tag,            // the same tag twice within a dataset or item
  group_length_vr,          // (gggg,0000) not UL with length 4
  group_length_value,       // (gggg,0000) value differs from the group's encoded length
  undefined_length,         // undefined length on an element that may not have one (fatal)
  odd_length,               // odd value length
  vr_mismatch,              // explicit VR differs from the dictionary's
  invalid_vr,               // explicit VR is not one of the 34 VRs (fatal: the length cannot be known)
  delimiter_imbalance,      // item/sequence delimiter where none is open, or missing at the end of data
  element_outside_item,     // a data element directly inside a sequence (fatal)
  item_length,              // an item or fragment length that does not fit its sequence
  excess_nesting,           // deeper than Limits::max_depth (fatal)
  too_many_elements,        // more than Limits::max_elements (fatal)
  meta_in_dataset,          // a group 0002 element after the File Meta group
};
const char* problem_name(Problem p);
bool problem_is_fatal(Problem p);

struct Issue {
  Problem problem;
  Tag tag;
  std::uint64_t offset;  // byte offset of the element header, relative to the walked stream's origin
  std::string detail;    // short, structural, never a value from the file
};

struct Encoding {
  bool explicit_vr = true;
  bool big_endian = false;
  friend constexpr bool operator==(Encoding, Encoding) = default;
};
inline constexpr Encoding kExplicitLittle{true, false}, kImplicitLittle{false, false}, kExplicitBig{true, true};

struct Element {
  Tag tag;
  VR vr;                        // explicit VR, or the dictionary's for implicit VR (UN when unknown)
  std::uint32_t length;         // kUndefinedLength for undefined
  std::uint64_t offset;         // header offset
  std::uint64_t value_offset;   // first value byte
  int depth;                    // 0 = top-level dataset, 1 = inside an item of a top-level sequence, ...
  bool fragment = false;        // an item of encapsulated pixel data (tag == kItem)
  Tag parent = 0;               // enclosing sequence (or pixel data element for fragments); 0 at top level
  bool truncated = false;       // stream walks: the value is longer than the window and only its start is given
};

class Visitor {
 public:
  virtual ~Visitor() = default;
  // Called for every element with a value (not for sequences, items or delimiters themselves, but for each
  // fragment of encapsulated pixel data). value spans exactly the value's bytes.
  virtual void element(const Element& e, std::span<const std::uint8_t> value) = 0;
  // Called when a sequence (or encapsulated pixel data) opens; the walker descends into it afterwards.
  virtual void sequence(const Element&) {}
  // Called when an item of a sequence opens (e.tag == kItem, e.offset is the item tag's offset, e.length the
  // item's length or kUndefinedLength); not for fragments of encapsulated pixel data.
  virtual void item(const Element&) {}
  // Called when an item or a sequence (or encapsulated pixel data) closes, at its end or its delimiter;
  // `end` is the offset just past it. Not called for what a fatal issue leaves open.
  virtual void item_end(std::uint64_t /*end*/) {}
  virtual void sequence_end(std::uint64_t /*end*/) {}
};

struct Limits {
  int max_depth = 64;
  std::uint64_t max_elements = 4'000'000;
  std::uint16_t only_group = 0;  // when non-zero: stop (cleanly) at the first top-level tag of another group
};

struct WalkResult {
  std::vector<Issue> issues;
  std::uint64_t elements = 0;
  std::uint64_t end = 0;             // offset where walking stopped (== buffer size when it reached the end)
  bool fatal = false;                // stopped at an issue it could not continue past
  bool stopped_at_boundary = false;  // fatal stop happened at the start of a top-level element
  Tag last_top_tag = 0;              // last top-level tag whose header was read
  bool has_pixel_data = false;       // a top-level (7FE0,0010) was read
  std::uint64_t max_depth_seen = 0;
};

// Walks `data` (a whole dataset or what follows the File Meta group). `origin` is added to every offset in
// results (the position of data[0] in the file), so evidence names file offsets.
WalkResult walk(std::span<const std::uint8_t> data, std::uint64_t origin, Encoding enc, Visitor& v,
                const Limits& limits = {});

// Bytes that arrive in order, such as the output of an inflater.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Writes up to out.size() next bytes into out and returns how many; 0 means the stream has ended.
  virtual std::size_t read(std::span<std::uint8_t> out) = 0;
};

// A stream seen through a window of at most `window` bytes, read forward only: positions asked for never go
// back before the last position asked for. Memory: the window, allocated as it fills, in pages of its own that
// go back to the kernel when the window is destroyed.
class StreamWindow {
 public:
  StreamWindow(ByteStream& in, std::size_t window);
  ~StreamWindow();
  StreamWindow(const StreamWindow&) = delete;
  StreamWindow& operator=(const StreamWindow&) = delete;

  // Makes up to `want` (at most window()) bytes at `pos` readable and returns how many are: fewer only where
  // the stream ends. The bytes are at data(pos) until the next call.
  std::size_t avail(std::uint64_t pos, std::size_t want);
  const std::uint8_t* data(std::uint64_t pos) const { return buf_ + (pos - base_); }
  // Reads and forgets the stream up to `pos`; false when it ends before.
  bool skip_to(std::uint64_t pos);
  bool ended() const { return eof_; }
  std::uint64_t begin() const { return base_; }  // the first position still readable
  std::uint64_t end() const { return base_ + have_; }  // the stream's length once ended()
  std::size_t window() const { return window_; }

 private:
  ByteStream& in_;
  std::size_t window_;
  std::uint8_t* buf_ = nullptr;
  std::size_t cap_ = 0, have_ = 0;
  void grow(std::size_t cap);
  std::uint64_t base_ = 0;  // stream position of buf_[0]
  bool eof_ = false;
};

// Walks a stream from its current start (position 0 of the stream). Values longer than the window are given by
// their first window() bytes with Element::truncated set; the walk stops where the span walk would stop.
WalkResult walk(StreamWindow& data, std::uint64_t origin, Encoding enc, Visitor& v, const Limits& limits = {});

// Little/big-endian readers for bytes already bounds-checked by the caller.
inline std::uint16_t rd16(const std::uint8_t* p, bool be) {
  return be ? static_cast<std::uint16_t>(p[0] << 8 | p[1]) : static_cast<std::uint16_t>(p[1] << 8 | p[0]);
}
inline std::uint32_t rd32(const std::uint8_t* p, bool be) {
  return be ? (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3])
            : (std::uint32_t{p[3]} << 24 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[1]} << 8 | p[0]);
}

}  // namespace dg::dicom
