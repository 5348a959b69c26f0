#include "dicom/part10.h"

#include <cstring>

namespace dg::dicom::part10 {

bool has_marker(std::span<const std::uint8_t> file) {
  return file.size() >= kMetaOffset && std::memcmp(file.data() + kPreambleSize, "DICM", 4) == 0;
}

std::span<const std::uint8_t> preamble(std::span<const std::uint8_t> file) {
  return file.size() >= kPreambleSize ? file.first(kPreambleSize) : std::span<const std::uint8_t>{};
}

namespace {

bool explicit_vr_header(std::span<const std::uint8_t> d) {
  return is_known_vr(static_cast<VR>(d[4] << 8 | d[5]));
}

// Keeps the File Meta values (the first copy of each) and passes every call on.
class MetaReader : public Visitor {
 public:
  MetaReader(FileMeta& m, Visitor* also) : m_(m), also_(also) {}

  void element(const Element& e, std::span<const std::uint8_t> value) override {
    if (e.depth == 0 && !e.fragment) top_level(e, value);
    if (also_) also_->element(e, value);
  }
  void sequence(const Element& e) override {
    if (also_) also_->sequence(e);
  }
  void item(const Element& e) override {
    if (also_) also_->item(e);
  }
  void item_end(std::uint64_t end) override {
    if (also_) also_->item_end(end);
  }
  void sequence_end(std::uint64_t end) override {
    if (also_) also_->sequence_end(end);
  }

 private:
  FileMeta& m_;
  Visitor* also_;

  void top_level(const Element& e, std::span<const std::uint8_t> value) {
    if (m_.elements.size() < FileMeta::kMaxElements) m_.elements.push_back(e);
    auto keep = [&](std::string& out, bool& has) {
      if (!has) out = uids::value(value);
      has = true;
    };
    switch (e.tag) {
      case tag(2, 0): m_.has_group_length = true; break;
      case tag(2, 1):
        if (!m_.has_version) m_.version.assign(value.begin(), value.begin() + std::min<std::size_t>(value.size(), 8));
        m_.has_version = true;
        break;
      case tag(2, 2): keep(m_.sop_class, m_.has_sop_class); break;
      case tag(2, 3): keep(m_.sop_instance, m_.has_sop_instance); break;
      case tag(2, 0x10): keep(m_.transfer_syntax_uid, m_.has_transfer_syntax); break;
      default: break;
    }
  }
};

}  // namespace

FileMeta read_meta(std::span<const std::uint8_t> file, Visitor* also) {
  FileMeta m;
  const auto bytes = file.size() >= kMetaOffset ? file.subspan(kMetaOffset) : std::span<const std::uint8_t>{};
  // Always explicit VR little endian (PS3.10 7.1); a group that is not is walked as implicit VR.
  Encoding enc = kExplicitLittle;
  if (bytes.size() >= 8 && !explicit_vr_header(bytes)) {
    m.explicit_vr = false;
    enc.explicit_vr = false;
  }
  MetaReader reader(m, also);
  Limits limits;
  limits.only_group = 0x0002;
  m.walk = walk(bytes, kMetaOffset, enc, reader, limits);
  m.dataset_start = kMetaOffset + m.walk.end;
  if (m.has_transfer_syntax) m.transfer_syntax = transfer_syntax(m.transfer_syntax_uid);
  return m;
}

Encoding sniff_encoding(std::span<const std::uint8_t> d) {
  if (d.size() >= 8) {
    const bool big = d[0] == 0 && d[1] != 0;  // group 0x0008 reads "00 08" in big endian, "08 00" in little
    return {explicit_vr_header(d), big};
  }
  return {};
}

Encoding declared_encoding(const FileMeta& meta, std::span<const std::uint8_t> dataset) {
  if (meta.transfer_syntax_usable()) return {meta.transfer_syntax.explicit_vr, meta.transfer_syntax.big_endian};
  return sniff_encoding(dataset);
}

std::string encoding_name(Encoding e) {
  return std::string(e.explicit_vr ? "explicit VR " : "implicit VR ") + (e.big_endian ? "big endian" : "little endian");
}

bool ends_at_trailing_data(const WalkResult& w) {
  if (!w.fatal || w.issues.empty() || !w.stopped_at_boundary || w.elements == 0) return false;
  const Issue& stop = w.issues.back();
  if (stop.problem == Problem::truncated_header) return false;
  return w.has_pixel_data || stop.tag < w.last_top_tag;
}

DatasetWalk walk_dataset(std::span<const std::uint8_t> ds, std::uint64_t origin, Encoding declared,
                         const VisitorFor& visitor) {
  DatasetWalk r{walk(ds, origin, declared, visitor(0, declared)), declared};
  const WalkResult& w = r.walk;
  const bool capped = w.fatal && !w.issues.empty() && (w.issues.back().problem == Problem::excess_nesting ||
                                                        w.issues.back().problem == Problem::too_many_elements);
  if (!w.fatal || capped || ends_at_trailing_data(w)) return r;
  // Another encoding is taken when it gets further than the declared one and reaches the end (or data appended
  // after the dataset); or, when the declared explicit VR could not read a single element, when implicit VR can.
  const bool no_element = w.elements == 0 && !w.issues.empty() && w.issues.back().problem == Problem::invalid_vr;
  std::size_t attempt = 0;
  for (Encoding other : {kImplicitLittle, kExplicitLittle, kExplicitBig}) {
    if (other == declared) continue;
    WalkResult wo = walk(ds, origin, other, visitor(++attempt, other));
    const bool implicit_fallback = no_element && !other.explicit_vr && declared.explicit_vr;
    if (wo.elements > 0 && wo.end > w.end &&
        (implicit_fallback || !wo.fatal || (ends_at_trailing_data(wo) && wo.has_pixel_data))) {
      r.walk = std::move(wo);
      r.encoding = other;
      r.attempt = attempt;
      r.fallback = true;
      break;
    }
  }
  return r;
}

std::optional<DatasetWalk> walk_raw_dataset(std::span<const std::uint8_t> file, const VisitorFor& visitor) {
  if (file.size() < 8) return std::nullopt;
  const std::uint16_t g_le = rd16(file.data(), false), g_be = rd16(file.data(), true);
  std::size_t attempt = 0;
  for (Encoding enc : {kExplicitLittle, kImplicitLittle, kExplicitBig}) {
    const std::uint16_t g = enc.big_endian ? g_be : g_le;
    if (g != 0x0002 && g != 0x0008) continue;
    if (enc.explicit_vr != explicit_vr_header(file)) continue;
    const std::size_t a = attempt++;
    WalkResult w = walk(file, 0, enc, visitor(a, enc));
    if (w.elements < 3 || (w.fatal && !w.stopped_at_boundary)) continue;
    return DatasetWalk{std::move(w), enc, a, false};
  }
  return std::nullopt;
}

InflateStream::InflateStream(std::span<const std::uint8_t> in, std::uint64_t cap)
    : z_(in, util::Inflater::Format::raw), cap_(cap) {}

std::size_t InflateStream::read(std::span<std::uint8_t> out) {
  if (z_.produced() >= cap_) {
    if (z_.state() == util::Inflater::State::running) {
      std::uint8_t probe;
      limit_ = z_.read({&probe, 1}) == 1;  // one byte past the cap: there is more
    }
    return 0;
  }
  return z_.read(out.first(static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), cap_ - z_.produced()))));
}

DeflatedDataset::DeflatedDataset(std::span<const std::uint8_t> compressed, std::uint64_t max_inflated,
                                 std::size_t window)
    : compressed_(compressed), in_(compressed, max_inflated), win_(in_, window) {}

WalkResult DeflatedDataset::walk(Visitor& v, const Limits& limits) {
  return dicom::walk(win_, 0, kExplicitLittle, v, limits);
}

bool DeflatedDataset::cut_by_cap(const WalkResult& w) const {
  if (!w.fatal || !in_.limit() || !win_.ended() || w.issues.empty()) return false;
  const Problem p = w.issues.back().problem;
  return p == Problem::length_past_end || p == Problem::item_length || p == Problem::truncated_header;
}

bool DeflatedDataset::complete() const {
  return in_.inflater().state() == util::Inflater::State::done && !in_.limit();
}

bool DeflatedDataset::corrupt() const { return in_.inflater().state() == util::Inflater::State::corrupt; }

DeflatedDataset::After DeflatedDataset::after() const {
  if (!complete() || consumed() >= compressed_.size()) return After::nothing;
  const auto rest = compressed_.subspan(static_cast<std::size_t>(consumed()));
  const util::Inflater& z = in_.inflater();
  const bool gzip_trailer = rest.size() == 8 && rd32(rest.data(), false) == z.crc32() &&
                            rd32(rest.data() + 4, false) == static_cast<std::uint32_t>(z.produced());
  return gzip_trailer ? After::gzip_trailer : After::data;
}

}  // namespace dg::dicom::part10
