#include "dicom/walker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <new>

#include <sys/mman.h>

#include "dicom/dictionary.h"

namespace dg::dicom {

const char* problem_name(Problem p) {
  switch (p) {
    case Problem::length_past_end: return "length-past-end";
    case Problem::truncated_header: return "truncated-header";
    case Problem::tag_order: return "tag-order";
    case Problem::duplicate_tag: return "duplicate-tag";
    case Problem::group_length_vr: return "group-length-vr";
    case Problem::group_length_value: return "group-length-value";
    case Problem::undefined_length: return "undefined-length-not-allowed";
    case Problem::odd_length: return "odd-length";
    case Problem::vr_mismatch: return "vr-mismatch";
    case Problem::invalid_vr: return "invalid-vr";
    case Problem::delimiter_imbalance: return "delimiter-imbalance";
    case Problem::element_outside_item: return "element-outside-item";
    case Problem::item_length: return "item-length";
    case Problem::excess_nesting: return "excess-nesting";
    case Problem::too_many_elements: return "too-many-elements";
    case Problem::meta_in_dataset: return "meta-in-dataset";
  }
  return "unknown";
}

bool problem_is_fatal(Problem p) {
  switch (p) {
    case Problem::length_past_end:
    case Problem::truncated_header:
    case Problem::undefined_length:
    case Problem::invalid_vr:
    case Problem::element_outside_item:
    case Problem::item_length:
    case Problem::excess_nesting:
    case Problem::too_many_elements:
      return true;
    default:
      return false;
  }
}

namespace {

enum class Kind : std::uint8_t { dataset, item, sequence, fragments };

constexpr std::uint64_t kUnbounded = ~std::uint64_t{0};

struct Frame {
  Kind kind;
  bool defined;
  std::uint64_t end;  // relative to data: the frame's own end when defined, else the nearest defined ancestor's end
                      // (kUnbounded: the end of a stream whose length is not known yet)
  Encoding enc;
  Tag seq_tag;        // enclosing sequence tag (for items, sequences, fragments)
  Tag last_tag = 0;
  bool any = false;
  // group length bookkeeping (datasets and items)
  bool gl_active = false;
  std::uint16_t gl_group = 0;
  std::uint64_t gl_expected_end = 0;
  std::uint64_t gl_offset = 0;
  std::uint64_t header_at = 0;  // where the item or sequence header that opened this frame starts
};

// Bytes held whole.
class SpanSource {
 public:
  explicit SpanSource(std::span<const std::uint8_t> d) : d_(d) {}
  std::uint64_t size() const { return d_.size(); }
  std::size_t avail(std::uint64_t pos, std::size_t want) const {
    return static_cast<std::size_t>(std::min<std::uint64_t>(want, d_.size() - pos));
  }
  const std::uint8_t* at(std::uint64_t pos) const { return d_.data() + pos; }
  // The value [pos, pos+len): the caller has checked it lies inside the data.
  bool value(std::uint64_t pos, std::uint64_t len, std::span<const std::uint8_t>& out, bool& truncated) const {
    out = d_.subspan(pos, len);
    truncated = false;
    return true;
  }
  bool skip_to(std::uint64_t) const { return true; }
  bool ends_at(std::uint64_t pos) const { return pos == d_.size(); }

 private:
  std::span<const std::uint8_t> d_;
};

// A stream through its window: lengths are checked as the bytes arrive.
class WindowSource {
 public:
  explicit WindowSource(StreamWindow& w) : w_(w) {}
  std::uint64_t size() const { return kUnbounded; }
  std::size_t avail(std::uint64_t pos, std::size_t want) { return w_.avail(pos, want); }
  const std::uint8_t* at(std::uint64_t pos) const { return w_.data(pos); }
  // The value's first min(len, window) bytes; false when the stream ends before them.
  bool value(std::uint64_t pos, std::uint64_t len, std::span<const std::uint8_t>& out, bool& truncated) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(len, w_.window()));
    if (w_.avail(pos, n) < n) return false;
    out = {w_.data(pos), n};
    truncated = n < len;
    return true;
  }
  bool skip_to(std::uint64_t pos) { return w_.skip_to(pos); }
  bool ends_at(std::uint64_t pos) const { return w_.ended() && pos == w_.end(); }

 private:
  StreamWindow& w_;
};

template <class Source>
class Walker {
 public:
  Walker(Source src, std::uint64_t origin, Encoding enc, Visitor& v, const Limits& lim)
      : src_(std::move(src)), origin_(origin), v_(v), lim_(lim) {
    stack_.push_back(Frame{Kind::dataset, true, src_.size(), enc, 0});
  }

  WalkResult run() {
    while (!stack_.empty() && !stopped_) step();
    r_.end = pos_;
    return std::move(r_);
  }

 private:
  Source src_;
  std::uint64_t origin_;
  Visitor& v_;
  const Limits& lim_;
  std::vector<Frame> stack_;
  std::uint64_t pos_ = 0;
  bool stopped_ = false;
  WalkResult r_;

  int depth_ = 0;  // items open on the stack: the nesting level of the current element
  int depth() const { return depth_; }

  void issue(Problem p, Tag t, std::uint64_t at, std::string detail = {}) {
    if (r_.issues.size() < 1000) r_.issues.push_back({p, t, origin_ + at, std::move(detail)});
    if (problem_is_fatal(p)) {
      r_.fatal = true;
      r_.stopped_at_boundary = stack_.size() == 1 && at == pos_;
      stopped_ = true;
    }
  }

  void close_group(Frame& f, std::uint64_t at) {
    if (f.gl_active && at != f.gl_expected_end)
      issue(Problem::group_length_value, tag(f.gl_group, 0), f.gl_offset,
            fmt::format("group length says the group ends at offset {}, it ends at {}", origin_ + f.gl_expected_end,
                        origin_ + at));
    f.gl_active = false;
  }

  void pop() {
    Frame& f = stack_.back();
    close_group(f, pos_);
    const Kind k = f.kind;
    depth_ -= k == Kind::item;
    stack_.pop_back();
    if (k == Kind::item) v_.item_end(origin_ + pos_);
    else if (k == Kind::sequence || k == Kind::fragments) v_.sequence_end(origin_ + pos_);
  }

  bool push(Frame f, Tag t, std::uint64_t at) {
    if (static_cast<int>(stack_.size()) >= 2 * lim_.max_depth + 1) {
      issue(Problem::excess_nesting, t, at, fmt::format("nesting deeper than {} levels", lim_.max_depth));
      return false;
    }
    stack_.push_back(f);
    depth_ += f.kind == Kind::item;
    r_.max_depth_seen = std::max<std::uint64_t>(r_.max_depth_seen, static_cast<std::uint64_t>(depth()));
    return true;
  }

  void step() {
    Frame& f = stack_.back();
    // Every frame carries a bound (its own end, or for an undefined-length frame the end of the nearest
    // defined-length container, or of the data); nothing inside a frame may read past it. A stream's end is
    // learnt as its bytes arrive: up to a header's worth is asked for here.
    std::uint64_t lim = f.end;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(lim - pos_, 12));
    if (const std::size_t a = src_.avail(pos_, want); a < want) lim = pos_ + a;
    if (pos_ == lim) {
      if (lim < f.end && f.end != kUnbounded) {
        data_ended_inside(lim);
        return;
      }
      if (f.defined) {
        pop();
        return;
      }
      // Reached the end of data, or of an enclosing defined-length element, inside an undefined-length sequence
      // or item: its delimiter is missing. Close the undefined frames up to the container that ends here.
      issue(Problem::delimiter_imbalance, f.seq_tag, pos_,
            src_.ends_at(lim) ? "end of data inside an undefined-length sequence or item"
                              : "an undefined-length sequence or item runs to the end of its defined-length container");
      while (!stack_.empty() && !stack_.back().defined) pop();
      return;
    }
    if (lim - pos_ < 8) {
      issue(Problem::truncated_header, 0, pos_, fmt::format("{} bytes left, an element header needs 8", lim - pos_));
      return;
    }
    const std::uint8_t* p = src_.at(pos_);
    const bool be = f.enc.big_endian;
    const Tag t = tag(rd16(p, be), rd16(p + 2, be));

    if (group(t) == 0xFFFE && (t == kItem || t == kItemDelim || t == kSeqDelim)) {
      delimiter(f, t, rd32(p + 4, be), lim);
      return;
    }
    if (f.kind == Kind::sequence || f.kind == Kind::fragments) {
      issue(Problem::element_outside_item, t, pos_, "data element directly inside a sequence, outside any item");
      return;
    }
    data_element(f, t, p, lim);
  }

  // A stream ended inside defined-length containers: reported as the span walk reports it, at the outermost
  // container whose declared length runs past the data (the one it checks first).
  void data_ended_inside(std::uint64_t data_end) {
    for (std::size_t i = 1; i < stack_.size(); ++i) {
      const Frame& c = stack_[i];
      if (!c.defined || c.end <= data_end) continue;
      const std::uint64_t declared = c.end - c.header_at;
      if (c.kind == Kind::item)
        issue(Problem::item_length, kItem, c.header_at,
              fmt::format("item length {} runs past its sequence or the data", declared - 8));
      else
        issue(Problem::length_past_end, c.seq_tag, c.header_at,
              fmt::format("sequence ends at offset {}, the data at {}", origin_ + c.end, origin_ + data_end));
      return;
    }
    issue(Problem::length_past_end, stack_.back().seq_tag, pos_, "the data ends inside a defined-length container");
  }

  // Gives the visitor the value [pos, pos+len) (in a stream: its first window's worth). False when the data ends
  // before the value does; the caller reports it.
  bool deliver(Element& e, std::uint64_t pos, std::uint64_t len) {
    std::span<const std::uint8_t> value;
    bool truncated = false;
    if (!src_.value(pos, len, value, truncated)) return false;
    e.truncated = truncated;
    v_.element(e, value);
    return src_.skip_to(pos + len);
  }

  void delimiter(Frame& f, Tag t, std::uint32_t len, std::uint64_t lim) {
    const std::uint64_t at = pos_;
    if (t == kItem && (f.kind == Kind::sequence || f.kind == Kind::fragments)) {
      if (len == kUndefinedLength) {
        if (f.kind == Kind::fragments) {
          issue(Problem::undefined_length, t, at, "pixel data fragment with undefined length");
          return;
        }
        pos_ += 8;
        count(t, at);
        const Tag seq = f.seq_tag;  // `f` does not survive the push
        if (push(Frame{Kind::item, false, f.end, f.enc, seq, 0, false, false, 0, 0, 0, at}, t, at))
          v_.item(Element{t, 0, len, origin_ + at, origin_ + at + 8, depth(), false, seq});
        return;
      }
      if (len > lim - at - 8) {
        issue(Problem::item_length, t, at, fmt::format("item length {} runs past its sequence or the data", len));
        return;
      }
      if (f.kind == Kind::fragments) {
        if (len & 1) issue(Problem::odd_length, t, at, fmt::format("fragment length {} is odd", len));
        Element e{t, kOB, len, origin_ + at, origin_ + at + 8, depth(), true, f.seq_tag};
        if (!deliver(e, at + 8, len)) {
          issue(Problem::item_length, t, at, fmt::format("fragment length {} runs past the end of the data", len));
          return;
        }
        pos_ += 8 + std::uint64_t{len};
        count(t, at);
        return;
      }
      pos_ += 8;
      count(t, at);
      const Tag seq = f.seq_tag;  // `f` does not survive the push
      if (push(Frame{Kind::item, true, pos_ + len, f.enc, seq, 0, false, false, 0, 0, 0, at}, t, at))
        v_.item(Element{t, 0, len, origin_ + at, origin_ + at + 8, depth(), false, seq});
      return;
    }
    if (t == kItemDelim && f.kind == Kind::item && !f.defined) {
      if (len != 0) issue(Problem::delimiter_imbalance, t, at, "item delimitation item with non-zero length");
      pos_ += 8;
      pop();
      return;
    }
    if (t == kSeqDelim && (f.kind == Kind::sequence || f.kind == Kind::fragments) && !f.defined) {
      if (len != 0) issue(Problem::delimiter_imbalance, t, at, "sequence delimitation item with non-zero length");
      pos_ += 8;
      pop();
      return;
    }
    if (t == kSeqDelim && f.kind == Kind::item && !f.defined && stack_.size() >= 2 &&
        !stack_[stack_.size() - 2].defined) {
      // An undefined-length item closed by the sequence delimiter: the item delimiter is missing.
      issue(Problem::delimiter_imbalance, t, at, "sequence delimiter closes an item whose delimiter is missing");
      pos_ += 8;
      pop();
      pop();
      return;
    }
    if (t == kItem) {
      issue(Problem::element_outside_item, t, at, "item outside any sequence");
      return;
    }
    issue(Problem::delimiter_imbalance, t, at,
          t == kItemDelim ? "item delimiter with no open undefined-length item"
                          : "sequence delimiter with no open undefined-length sequence");
    pos_ += 8;
  }

  void count(Tag t, std::uint64_t at) {
    if (++r_.elements > lim_.max_elements)
      issue(Problem::too_many_elements, t, at, fmt::format("more than {} elements", lim_.max_elements));
  }

  void data_element(Frame& f, Tag t, const std::uint8_t* p, std::uint64_t lim) {
    const std::uint64_t at = pos_;
    const bool top = stack_.size() == 1;
    if (top && lim_.only_group && group(t) != lim_.only_group) {
      close_group(f, at);
      stopped_ = true;  // clean stop: the caller asked for one group only
      return;
    }
    const bool be = f.enc.big_endian;
    VR v;
    std::uint32_t len;
    std::uint64_t hdr;
    if (f.enc.explicit_vr) {
      v = static_cast<VR>(p[4] << 8 | p[5]);
      if (!is_known_vr(v)) {
        char name[3];
        vr_name(v, name);
        issue(Problem::invalid_vr, t, at, fmt::format("explicit VR \"{}\" is not a DICOM VR", name));
        return;
      }
      if (has_long_length(v)) {
        if (lim - at < 12) {
          issue(Problem::truncated_header, t, at, "long-form element header cut short");
          return;
        }
        len = rd32(p + 8, be);
        hdr = 12;
      } else {
        len = rd16(p + 6, be);
        hdr = 8;
      }
    } else {
      v = implicit_vr(t);
      len = rd32(p + 4, be);
      hdr = 8;
    }

    if (f.any) {
      if (t < f.last_tag)
        issue(Problem::tag_order, t, at, fmt::format("follows {}", tag_string(f.last_tag)));
      else if (t == f.last_tag)
        issue(Problem::duplicate_tag, t, at, "tag appears twice in the same dataset");
    }
    if (!f.any || t > f.last_tag) f.last_tag = t;
    f.any = true;
    if (group(t) == 0x0002 && lim_.only_group != 0x0002)
      issue(Problem::meta_in_dataset, t, at, "File Meta element inside the dataset");

    // Group length bookkeeping.
    if (f.gl_active && group(t) != f.gl_group) close_group(f, at);
    const bool is_group_length = element(t) == 0x0000;
    if (is_group_length) {
      if ((f.enc.explicit_vr && v != kUL) || len != 4)
        issue(Problem::group_length_vr, t, at, "group length element must be UL with a 4-byte value");
    } else if (f.enc.explicit_vr && v != kUN && !is_private(t)) {
      if (const DictEntry* de = lookup(t); de && !dict_allows(*de, v)) {
        char name[3];
        vr_name(v, name);
        issue(Problem::vr_mismatch, t, at, fmt::format("VR {} where the dictionary says {}", name, de->vrs[0]));
      }
    }

    Element e{t, v, len, origin_ + at, origin_ + at + hdr, depth(), false, f.seq_tag};
    count(t, at);
    if (stopped_) return;
    if (top) r_.last_top_tag = t;

    if (len == kUndefinedLength) {
      const bool implicit_unknown = !f.enc.explicit_vr && v == kUN;
      if (v == kSQ || v == kUN || implicit_unknown) {
        // UN with undefined length holds an implicit VR little endian sequence (PS3.5 6.2.2).
        Encoding inner = (v == kUN && f.enc.explicit_vr) ? Encoding{false, false} : f.enc;
        pos_ += hdr;
        v_.sequence(e);
        push(Frame{Kind::sequence, false, f.end, inner, t}, t, at);
        return;
      }
      if ((t == kPixelData || t == kFloatPixelData || t == kDoubleFloatPixelData) &&
          (v == kOB || v == kOW || !f.enc.explicit_vr)) {
        pos_ += hdr;
        if (top) r_.has_pixel_data = true;
        v_.sequence(e);
        push(Frame{Kind::fragments, false, f.end, f.enc, t}, t, at);
        return;
      }
      char name[3];
      vr_name(v, name);
      issue(Problem::undefined_length, t, at, fmt::format("undefined length on a {} element", name));
      return;
    }
    if (len > lim - at - hdr) {
      issue(Problem::length_past_end, t, at,
            fmt::format("value length {} but only {} bytes left", len, lim - at - hdr));
      return;
    }
    if (len & 1) issue(Problem::odd_length, t, at, fmt::format("value length {} is odd", len));
    if (v == kSQ) {
      pos_ = at + hdr;
      v_.sequence(e);
      push(Frame{Kind::sequence, true, pos_ + len, f.enc, t, 0, false, false, 0, 0, 0, at}, t, at);
      return;
    }
    if (is_group_length && len == 4 && src_.avail(at + hdr, 4) == 4) {
      f.gl_active = true;
      f.gl_group = group(t);
      f.gl_offset = at;
      f.gl_expected_end = at + hdr + 4 + rd32(src_.at(at + hdr), be);
    }
    if (!deliver(e, at + hdr, len)) {
      f.gl_active = false;
      issue(Problem::length_past_end, t, at, fmt::format("value length {} runs past the end of the data", len));
      return;
    }
    pos_ = at + hdr + len;
    if (top && t == kPixelData) r_.has_pixel_data = true;
  }
};

}  // namespace

WalkResult walk(std::span<const std::uint8_t> data, std::uint64_t origin, Encoding enc, Visitor& v,
                const Limits& limits) {
  return Walker<SpanSource>(SpanSource(data), origin, enc, v, limits).run();
}

WalkResult walk(StreamWindow& data, std::uint64_t origin, Encoding enc, Visitor& v, const Limits& limits) {
  return Walker<WindowSource>(WindowSource(data), origin, enc, v, limits).run();
}

namespace {
// One spare window buffer per thread, kept when a window ends so that the next deflated file on this thread
// does not map and fault in fresh pages (a quarter of the time of a small deflated file went there). Only
// buffers up to kKeep are kept, so a thread holds at most that much between files.
constexpr std::size_t kKeep = 1u << 20;
struct Spare {
  std::uint8_t* buf = nullptr;
  std::size_t cap = 0;
  ~Spare() {
    if (buf) ::munmap(buf, cap);
  }
};
thread_local Spare t_spare;
void unmap_or_keep(std::uint8_t* buf, std::size_t cap) {
  if (!buf) return;
  if (cap <= kKeep && cap > t_spare.cap) {
    std::swap(buf, t_spare.buf);
    std::swap(cap, t_spare.cap);
  }
  if (buf) ::munmap(buf, cap);
}
}  // namespace

StreamWindow::StreamWindow(ByteStream& in, std::size_t window) : in_(in), window_(std::max<std::size_t>(window, 64)) {}
StreamWindow::~StreamWindow() { unmap_or_keep(buf_, cap_); }

// The window's own pages (not the heap, whose freed memory glibc keeps per thread), or this thread's spare.
void StreamWindow::grow(std::size_t cap) {
  std::uint8_t* bigger = nullptr;
  if (t_spare.buf && t_spare.cap >= cap) {
    bigger = t_spare.buf;
    cap = t_spare.cap;
    t_spare.buf = nullptr;
    t_spare.cap = 0;
  } else {
    void* m = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    bigger = static_cast<std::uint8_t*>(m);
  }
  if (have_) std::memcpy(bigger, buf_, have_);
  unmap_or_keep(buf_, cap_);
  buf_ = bigger;
  cap_ = cap;
}

std::size_t StreamWindow::avail(std::uint64_t pos, std::size_t want) {
  want = std::min(want, window_);
  if (pos < base_) return 0;  // gone: the window only moves forward
  if (pos + want <= base_ + have_) return want;
  if (pos > base_ + have_ && !skip_to(pos)) return 0;
  // Keep the bytes from pos on, then fill: first within the buffer, growing it (geometrically, up to the window)
  // only when the bytes wanted do not fit.
  const std::size_t keep = static_cast<std::size_t>(base_ + have_ - pos);
  if (keep && pos != base_) std::memmove(buf_, buf_ + (pos - base_), keep);
  base_ = pos;
  have_ = keep;
  if (cap_ < want) grow(std::min(std::max<std::size_t>(cap_ ? cap_ * 2 : 64u << 10, want), window_));
  while (have_ < want && !eof_) {
    const std::size_t n = in_.read({buf_ + have_, cap_ - have_});
    if (n == 0) eof_ = true;
    have_ += n;
  }
  return std::min(want, have_);
}

bool StreamWindow::skip_to(std::uint64_t pos) {
  if (pos <= base_ + have_) return true;
  // Forget the buffered bytes and read on until pos.
  base_ += have_;
  have_ = 0;
  if (cap_ == 0) grow(std::min<std::size_t>(64u << 10, window_));
  while (base_ < pos) {
    if (eof_) return false;
    const std::size_t n = in_.read({buf_, cap_});
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (base_ + n <= pos) {
      base_ += n;
      continue;
    }
    // Part of this read lies at and after pos: keep it.
    const std::size_t skip = static_cast<std::size_t>(pos - base_);
    std::memmove(buf_, buf_ + skip, n - skip);
    base_ = pos;
    have_ = n - skip;
  }
  return true;
}

}  // namespace dg::dicom
