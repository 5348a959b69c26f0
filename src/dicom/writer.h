// The one encoder of DICOM data elements (PS3.5 section 7): explicit or implicit VR, little or big endian,
// defined or undefined lengths, sequences, items, encapsulated pixel data fragments and group lengths.
//
// An ElementWriter writes incrementally, in the order of its calls, to a vector or to a ByteSink: bytes go out as
// soon as nothing still open needs them held back. A defined-length sequence or item and a group length can only
// be written once their content is known, so that content is held until it closes (undefined lengths hold
// nothing: a rewriter that streams a large dataset uses them). Values are copied through with header() + raw()
// in as many pieces as wanted.
//
// The writer never throws for what it is asked to write: a call it cannot honour (a value too long for its
// length field, an end_item() with no item open, a failed sink) makes ok() false and later calls write nothing
// (what was written before stays: the output is then incomplete). In implicit VR the VR arguments only decide
// padding and whether a sequence is UN.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "dicom/tag.h"
#include "dicom/vr.h"
#include "dicom/walker.h"  // Encoding (kExplicitLittle ...), kUndefinedLength

namespace dg::dicom {

// Where an ElementWriter's bytes go.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Takes all of `bytes`; false on failure (the writer then stops).
  virtual bool write(std::span<const std::uint8_t> bytes) = 0;
};

enum class Length : std::uint8_t { defined, undefined };

class ElementWriter {
 public:
  // Appends to `out` (which may already hold bytes, a preamble for instance; offsets count from its end).
  ElementWriter(std::vector<std::uint8_t>& out, Encoding enc);
  // Gives the bytes to `sink`, in order; what is held is given by finish().
  ElementWriter(ByteSink& sink, Encoding enc);
  ElementWriter(const ElementWriter&) = delete;
  ElementWriter& operator=(const ElementWriter&) = delete;

  // One element and its value, padded to even length with padding(vr): UI with NUL, text with a space, binary
  // with 0. A short-form VR (explicit VR) takes at most 0xFFFE bytes.
  void element(Tag t, VR vr, std::span<const std::uint8_t> value);
  void element(Tag t, VR vr, std::string_view text);
  // Binary numbers in the writer's byte order.
  void us(Tag t, std::uint16_t v);
  void ul(Tag t, std::uint32_t v);

  // An element header alone with the length given, whatever follows (kUndefinedLength included); the value is
  // then given with raw(). Item and delimitation tags (FFFE,xxxx) are written without a VR (PS3.5 7.5).
  void header(Tag t, VR vr, std::uint32_t length);
  // Bytes as they are: a value copied through, in pieces, or elements encoded elsewhere.
  void raw(std::span<const std::uint8_t> bytes);

  // (gggg,0000) Group Length: the elements of group g follow, and end_group() writes the group's length.
  void begin_group(std::uint16_t g);
  void end_group();

  // A sequence: VR SQ; UN, whose items are then written in implicit VR little endian (PS3.5 6.2.2); or OB/OW
  // Pixel Data with undefined length, whose items are fragment()s (PS3.5 A.4).
  void begin_sequence(Tag t, Length length = Length::undefined, VR vr = kSQ);
  void end_sequence();
  void begin_item(Length length = Length::undefined);
  void end_item();
  // One fragment of encapsulated pixel data (the first is the Basic Offset Table), padded to even length.
  void fragment(std::span<const std::uint8_t> bytes);

  // Writes out what is held. False when anything failed or a sequence, item or group is still open.
  bool finish();
  bool ok() const { return ok_; }
  // Bytes written so far, held ones included: the offset of the next byte from where the writer started.
  std::uint64_t written() const { return flushed_ + (out_->size() - base_); }
  // The encoding the next element is written in (implicit VR little endian inside a UN sequence).
  Encoding encoding() const { return enc_; }
  // Sequences, items and groups open.
  std::size_t open() const { return open_.size(); }

 private:
  enum class Kind : std::uint8_t { group, sequence, item };
  struct Open {
    Kind kind;
    bool undefined;
    bool length_big_endian;   // the byte order of the length to fill in
    std::uint64_t length_at;  // where the 4-byte length (or group length value) to fill in starts
    std::uint64_t content;    // where the content starts
    Encoding outer;           // the encoding around it
  };

  std::vector<std::uint8_t> own_;
  std::vector<std::uint8_t>* out_;
  ByteSink* sink_ = nullptr;
  std::size_t base_;          // out_->size() when the writer started (vector mode)
  std::uint64_t flushed_ = 0;  // bytes given to the sink
  std::size_t held_ = 0;       // open entries whose length is still to be filled in
  std::vector<Open> open_;
  Encoding enc_;
  bool ok_ = true;

  void put16(std::uint16_t v);
  void put32(std::uint32_t v);
  void patch32(std::uint64_t at, std::uint32_t v, bool big_endian);
  void push(Kind k, Length length, std::uint64_t length_at);
  bool close(Kind k);
  void maybe_flush(bool all);
};

// The bytes `write(ElementWriter&)` writes, in the encoding given.
template <class F>
std::vector<std::uint8_t> encode(Encoding enc, F&& write) {
  std::vector<std::uint8_t> out;
  ElementWriter w(out, enc);
  write(w);
  w.finish();
  return out;
}

}  // namespace dg::dicom
