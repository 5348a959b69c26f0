#include "dicom/writer.h"

namespace dg::dicom {

namespace {

constexpr std::size_t kFlushAt = 64u << 10;  // bytes gathered before they are given to a sink
constexpr std::uint64_t kMaxShortValue = 0xFFFE;  // the longest even value a 2-byte length holds

bool is_item_or_delimiter(Tag t) { return t == kItem || t == kItemDelim || t == kSeqDelim; }

}  // namespace

ElementWriter::ElementWriter(std::vector<std::uint8_t>& out, Encoding enc)
    : out_(&out), base_(out.size()), enc_(enc) {}

ElementWriter::ElementWriter(ByteSink& sink, Encoding enc) : out_(&own_), sink_(&sink), base_(0), enc_(enc) {}

void ElementWriter::put16(std::uint16_t v) {
  if (enc_.big_endian) {
    out_->push_back(static_cast<std::uint8_t>(v >> 8));
    out_->push_back(static_cast<std::uint8_t>(v));
  } else {
    out_->push_back(static_cast<std::uint8_t>(v));
    out_->push_back(static_cast<std::uint8_t>(v >> 8));
  }
}

void ElementWriter::put32(std::uint32_t v) {
  if (enc_.big_endian) {
    put16(static_cast<std::uint16_t>(v >> 16));
    put16(static_cast<std::uint16_t>(v));
  } else {
    put16(static_cast<std::uint16_t>(v));
    put16(static_cast<std::uint16_t>(v >> 16));
  }
}

// Fills in a 4-byte length written earlier (still held: nothing is given to a sink while a length is open).
void ElementWriter::patch32(std::uint64_t at, std::uint32_t v, bool big_endian) {
  std::uint8_t* p = out_->data() + base_ + static_cast<std::size_t>(at - flushed_);
  for (int i = 0; i < 4; ++i) p[big_endian ? i : 3 - i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

void ElementWriter::maybe_flush(bool all) {
  if (!sink_ || held_ || !ok_ || out_->empty() || (!all && out_->size() < kFlushAt)) return;
  if (!sink_->write(*out_)) ok_ = false;
  flushed_ += out_->size();
  out_->clear();
}

void ElementWriter::header(Tag t, VR v, std::uint32_t length) {
  if (!ok_) return;
  const bool delimiter = is_item_or_delimiter(t);
  const bool long_form = has_long_length(v);
  if (!delimiter && enc_.explicit_vr && !long_form && length > 0xFFFF) {
    ok_ = false;  // does not fit a short-form length
    return;
  }
  put16(group(t));
  put16(dicom::element(t));
  if (delimiter || !enc_.explicit_vr) {
    put32(length);
  } else {
    out_->push_back(static_cast<std::uint8_t>(v >> 8));
    out_->push_back(static_cast<std::uint8_t>(v));
    if (long_form) {
      put16(0);
      put32(length);
    } else {
      put16(static_cast<std::uint16_t>(length));
    }
  }
  maybe_flush(false);
}

void ElementWriter::raw(std::span<const std::uint8_t> bytes) {
  if (!ok_ || bytes.empty()) return;
  if (sink_ && !held_ && bytes.size() >= kFlushAt) {
    // A large value with nothing held: straight to the sink, after what is gathered.
    maybe_flush(true);
    if (!ok_) return;
    if (!sink_->write(bytes)) ok_ = false;
    flushed_ += bytes.size();
    return;
  }
  out_->insert(out_->end(), bytes.begin(), bytes.end());
  maybe_flush(false);
}

void ElementWriter::element(Tag t, VR v, std::span<const std::uint8_t> value) {
  if (!ok_) return;
  const bool pad = value.size() & 1;
  const std::uint64_t length = std::uint64_t{value.size()} + pad;
  if (length >= kUndefinedLength || (enc_.explicit_vr && !has_long_length(v) && length > kMaxShortValue)) {
    ok_ = false;
    return;
  }
  header(t, v, static_cast<std::uint32_t>(length));
  raw(value);
  if (pad && ok_) {
    out_->push_back(padding(v));
    maybe_flush(false);
  }
}

void ElementWriter::element(Tag t, VR v, std::string_view text) {
  element(t, v, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

void ElementWriter::us(Tag t, std::uint16_t v) {
  header(t, vr("US"), 2);
  if (ok_) put16(v);
}

void ElementWriter::ul(Tag t, std::uint32_t v) {
  header(t, kUL, 4);
  if (ok_) put32(v);
}

void ElementWriter::push(Kind k, Length length, std::uint64_t length_at) {
  const bool undefined = length == Length::undefined;
  open_.push_back(Open{k, undefined, enc_.big_endian, length_at, written(), enc_});
  if (!undefined) ++held_;
}

void ElementWriter::begin_group(std::uint16_t g) {
  header(tag(g, 0), kUL, 4);
  if (!ok_) return;
  const std::uint64_t at = written();
  put32(0);
  push(Kind::group, Length::defined, at);
}

void ElementWriter::end_group() { close(Kind::group); }

void ElementWriter::begin_sequence(Tag t, Length length, VR v) {
  if (!ok_) return;
  if (enc_.explicit_vr && !has_long_length(v)) {
    ok_ = false;  // a sequence needs a 4-byte length
    return;
  }
  header(t, v, length == Length::undefined ? kUndefinedLength : 0);
  if (!ok_) return;
  push(Kind::sequence, length, written() - 4);
  if (v == kUN) enc_ = kImplicitLittle;  // PS3.5 6.2.2
}

void ElementWriter::end_sequence() { close(Kind::sequence); }

void ElementWriter::begin_item(Length length) {
  header(kItem, 0, length == Length::undefined ? kUndefinedLength : 0);
  if (!ok_) return;
  push(Kind::item, length, written() - 4);
}

void ElementWriter::end_item() { close(Kind::item); }

bool ElementWriter::close(Kind k) {
  if (!ok_) return false;
  if (open_.empty() || open_.back().kind != k) {
    ok_ = false;  // the calls do not nest
    return false;
  }
  const Open o = open_.back();
  open_.pop_back();
  if (o.undefined) {
    header(k == Kind::item ? kItemDelim : kSeqDelim, 0, 0);  // in the content's encoding, as the walker reads it
  } else {
    const std::uint64_t n = written() - o.content;
    --held_;
    if (n >= kUndefinedLength) {
      ok_ = false;
      return false;
    }
    patch32(o.length_at, static_cast<std::uint32_t>(n), o.length_big_endian);
  }
  enc_ = o.outer;
  maybe_flush(false);
  return ok_;
}

void ElementWriter::fragment(std::span<const std::uint8_t> bytes) {
  if (!ok_) return;
  const bool pad = bytes.size() & 1;
  const std::uint64_t length = std::uint64_t{bytes.size()} + pad;
  if (length >= kUndefinedLength) {
    ok_ = false;
    return;
  }
  header(kItem, 0, static_cast<std::uint32_t>(length));
  raw(bytes);
  if (pad && ok_) {
    out_->push_back(0);
    maybe_flush(false);
  }
}

bool ElementWriter::finish() {
  if (!open_.empty()) ok_ = false;
  maybe_flush(true);
  return ok_;
}

}  // namespace dg::dicom
