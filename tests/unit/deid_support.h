// Helpers for the deid unit tests: Part 10 files built with the one writer, and outputs read back with the walker
// into "path -> value" maps ("0040,0275/0010,0010" is an element inside an item of a sequence).
#pragma once

#include <fmt/format.h>
#include <zlib.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "deid/rewrite.h"
#include "dicom/part10.h"
#include "dicom/walker.h"
#include "dicom/writer.h"

namespace dgtest::deid {

using Bytes = std::vector<std::uint8_t>;
using dg::dicom::ElementWriter;

inline dg::deid::Plan plan(std::uint8_t key_byte = 7) {
  dg::deid::Plan p;
  p.key.fill(key_byte);
  return p;
}

// A Part 10 file: preamble (of `pre` bytes), DICM, a File Meta group naming ts, then the dataset write() makes.
inline Bytes file_of(const std::function<void(ElementWriter&)>& write, const std::string& ts = "1.2.840.10008.1.2.1",
                    const std::string& cls = "1.2.840.10008.5.1.4.1.1.2",
                    const std::string& inst = "1.2.826.0.1.3680043.10.99.1", std::uint8_t pre = 0x4D) {
  using namespace dg::dicom;
  Bytes out(132, pre);
  std::memcpy(out.data() + 128, "DICM", 4);
  {
    ElementWriter m(out, kExplicitLittle);
    m.begin_group(2);
    const std::uint8_t v[2] = {0, 1};
    m.element(tag(2, 1), kOB, std::span<const std::uint8_t>(v));
    m.element(tag(2, 2), kUI, cls);
    m.element(tag(2, 3), kUI, inst);
    m.element(tag(2, 0x10), kUI, ts);
    m.element(tag(2, 0x12), kUI, "1.2.3.4");
    m.end_group();
    m.finish();
  }
  const TransferSyntax t = transfer_syntax(ts);
  Bytes ds;
  {
    ElementWriter w(ds, Encoding{t.explicit_vr, t.big_endian});
    write(w);
    w.finish();
  }
  if (t.deflated) {
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    Bytes c(deflateBound(&z, ds.size()) + 16);
    z.next_in = ds.data();
    z.avail_in = static_cast<uInt>(ds.size());
    z.next_out = c.data();
    z.avail_out = static_cast<uInt>(c.size());
    deflate(&z, Z_FINISH);
    c.resize(z.total_out);
    deflateEnd(&z);
    ds = c;
  }
  out.insert(out.end(), ds.begin(), ds.end());
  return out;
}

struct Read {
  std::map<std::string, std::string> values;  // path -> value bytes as text (trailing padding removed)
  std::map<std::string, std::uint16_t> vrs;
  std::vector<dg::dicom::Issue> issues;
  bool fatal = true;
  std::string ts;
  std::string media_instance;
  bool has(const std::string& p) const { return values.count(p) != 0; }
  std::string at(const std::string& p) const {
    auto it = values.find(p);
    return it == values.end() ? "<absent>" : it->second;
  }
};

class Flatten : public dg::dicom::Visitor {
 public:
  explicit Flatten(Read& r) : r_(r) {}
  void element(const dg::dicom::Element& e, std::span<const std::uint8_t> v) override {
    if (e.fragment) return;
    std::string s(v.begin(), v.end());
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    r_.values[path(e.tag)] = s;
    r_.vrs[path(e.tag)] = e.vr;
  }
  void sequence(const dg::dicom::Element& e) override {
    r_.values[path(e.tag)] = "<sequence>";
    stack_.push_back(e.tag);
    items_.push_back(0);
  }
  void item(const dg::dicom::Element&) override { ++items_.back(); }
  void sequence_end(std::uint64_t) override {
    stack_.pop_back();
    items_.pop_back();
  }
  std::string path(dg::dicom::Tag t) const {
    std::string p;
    for (std::size_t i = 0; i < stack_.size(); ++i)
      p += fmt::format("{:04X},{:04X}/", stack_[i] >> 16, stack_[i] & 0xFFFF);
    return p + fmt::format("{:04X},{:04X}", t >> 16, t & 0xFFFF);
  }

 private:
  Read& r_;
  std::vector<dg::dicom::Tag> stack_;
  std::vector<int> items_;
};

// Reads an output file back with our own reader (deflated datasets inflated).
inline Read read(const Bytes& file) {
  using namespace dg::dicom;
  Read r;
  const part10::FileMeta m = part10::read_meta(file);
  r.ts = m.transfer_syntax_uid;
  r.media_instance = m.sop_instance;
  std::span<const std::uint8_t> ds(file.data() + m.dataset_start, file.size() - m.dataset_start);
  Bytes inflated;
  if (m.transfer_syntax.deflated) {
    part10::InflateStream in(ds, 1u << 30);
    std::uint8_t buf[4096];
    for (std::size_t n; (n = in.read(buf)) > 0;) inflated.insert(inflated.end(), buf, buf + n);
    ds = inflated;
  }
  Flatten f(r);
  const WalkResult w = walk(ds, 0, Encoding{m.transfer_syntax.explicit_vr, m.transfer_syntax.big_endian}, f);
  r.issues = w.issues;
  r.fatal = w.fatal;
  return r;
}

inline bool contains(const Bytes& hay, const std::string& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

}  // namespace dgtest::deid
