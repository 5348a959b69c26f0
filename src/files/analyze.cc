#include "files/analyze.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "dicom/dictionary.h"
#include "dicom/transfer_syntax.h"
#include "dicom/walker.h"
#include "files/active_content.h"
#include "files/mapped_file.h"

namespace dg::files {

using namespace dg::dicom;
using nlohmann::json;

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::clean: return "clean";
    case Verdict::suspicious: return "suspicious";
    case Verdict::dangerous: return "dangerous";
    case Verdict::malformed: return "malformed";
    case Verdict::not_dicom: return "not-dicom";
    case Verdict::error: return "error";
  }
  return "error";
}

const char* preamble_kind_name(PreambleKind k) {
  switch (k) {
    case PreambleKind::absent: return "absent";
    case PreambleKind::zero: return "zero";
    case PreambleKind::tiff: return "tiff";
    case PreambleKind::bigtiff: return "bigtiff";
    case PreambleKind::executable: return "executable";
    case PreambleKind::archive: return "archive";
    case PreambleKind::sparse: return "sparse";
    case PreambleKind::nonzero: return "nonzero";
  }
  return "?";
}

namespace {

constexpr std::size_t kPreamble = 128;
// A few isolated non-zero bytes with no recognisable header are seen in real vendor files (for example a
// single 0x01 at offset 17 in pydicom's dicomdirtests CT images); they carry no executable meaning.
constexpr int kSparseMaxNonzero = 4;

// Printable ASCII of an untrusted short value, for non-PHI fields such as UIDs and MIME types.
std::string printable(std::span<const std::uint8_t> v, std::size_t max = 64) {
  std::string s;
  for (std::uint8_t c : v.first(std::min(v.size(), max))) s.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  while (!s.empty() && (s.back() == ' ' || s.back() == '?')) s.pop_back();
  return s;
}
std::string uid_value(std::span<const std::uint8_t> v) {
  std::string s(reinterpret_cast<const char*>(v.data()), v.size());
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

bool is_tiff(std::span<const std::uint8_t> p, bool& big) {
  big = false;
  if (p.size() < 8) return false;
  if ((p[0] == 'I' && p[1] == 'I' && p[2] == 42 && p[3] == 0) || (p[0] == 'M' && p[1] == 'M' && p[2] == 0 && p[3] == 42))
    return true;
  if ((p[0] == 'I' && p[1] == 'I' && p[2] == 43 && p[3] == 0 && p[4] == 8 && p[5] == 0) ||
      (p[0] == 'M' && p[1] == 'M' && p[2] == 0 && p[3] == 43 && p[4] == 0 && p[5] == 8)) {
    big = true;
    return true;
  }
  return false;
}

json tag_json(Tag t) { return tag_string(t); }

// Collects what the checks need from a walk; never keeps a value beyond this file's analysis.
class Collector : public Visitor {
 public:
  Collector(const AnalyzeOptions& opt, const MappedFile* mf, std::vector<std::uint64_t> pointers, bool file_offsets)
      : opt_(opt), mf_(mf), pointers_(std::move(pointers)), file_offsets_(file_offsets) {}

  std::span<const std::uint8_t> sop_class, sop_instance, mime, document;
  bool have_sop_class = false, have_sop_instance = false, have_document = false, have_mime = false;
  std::vector<std::pair<ExecHit, Element>> hits;
  std::vector<std::pair<std::uint64_t, Element>> resolved;  // preamble pointer -> element holding it
  std::uint64_t scanned = 0;
  bool scan_complete = true;

  // For the File Meta group.
  std::span<const std::uint8_t> ts, version, meta_sop_class, meta_sop_instance;
  bool have_ts = false, have_version = false, have_group_length = false, have_meta_class = false,
       have_meta_instance = false;

  void element(const Element& e, std::span<const std::uint8_t> value) override {
    if (e.depth == 0 && !e.fragment) {
      switch (e.tag) {
        case kSOPClassUID: sop_class = value; have_sop_class = true; break;
        case kSOPInstanceUID: sop_instance = value; have_sop_instance = true; break;
        case kEncapsulatedDocument: document = value; have_document = true; break;
        case kMIMETypeOfEncapsulatedDocument: mime = value; have_mime = true; break;
        case tag(2, 0): have_group_length = true; break;
        case tag(2, 1): version = value; have_version = true; break;
        case tag(2, 2): meta_sop_class = value; have_meta_class = true; break;
        case tag(2, 3): meta_sop_instance = value; have_meta_instance = true; break;
        case tag(2, 0x10): ts = value; have_ts = true; break;
        default: break;
      }
    }
    if (file_offsets_)
      for (std::uint64_t p : pointers_)
        if (p >= e.value_offset && p - e.value_offset < value.size()) resolved.emplace_back(p, e);

    const bool opaque = is_opaque(e.vr) || is_private(e.tag) || e.fragment || e.tag == kEncapsulatedDocument;
    if (!opaque || value.empty() || hits.size() >= 16) return;
    std::span<const std::uint8_t> scan = value;
    const bool native_pixels = (e.tag == kPixelData || e.tag == kFloatPixelData || e.tag == kDoubleFloatPixelData);
    // Native pixel data is read by every viewer as pixel values: only its start is searched (a payload that a
    // preamble header points into is found by following the pointer). Other opaque values are searched in full
    // while the per-file budget lasts, then by their first head_scan bytes.
    const std::uint64_t head = native_pixels ? opt_.native_pixel_head : opt_.head_scan;
    if ((native_pixels || value.size() > budget_left()) && value.size() > head) {
      scan = value.first(head);
      scan_complete = false;
    }
    if (!native_pixels) spent_ += scan.size();
    scanned += scan.size();
    for (auto& h : find_executables(scan, 16 - hits.size())) hits.emplace_back(std::move(h), e);
    if (mf_ && scan.size() >= (1u << 20)) mf_->release(e.value_offset, scan.size());
  }

 private:
  std::uint64_t budget_left() const { return spent_ >= opt_.full_scan_budget ? 0 : opt_.full_scan_budget - spent_; }
  const AnalyzeOptions& opt_;
  const MappedFile* mf_;
  std::vector<std::uint64_t> pointers_;
  bool file_offsets_;
  std::uint64_t spent_ = 0;
};

struct Inflated {
  std::vector<std::uint8_t> data;
  std::uint64_t consumed = 0;
  bool complete = false, limit = false, corrupt = false;
};

Inflated inflate_raw(std::span<const std::uint8_t> in, std::uint64_t cap) {
  Inflated r;
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    r.corrupt = true;
    return r;
  }
  zs.next_in = const_cast<Bytef*>(in.data());
  std::uint64_t left_in = in.size();
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (r.data.size() >= cap) {
      r.limit = true;
      break;
    }
    // Grow geometrically from a guess of 4x the input: no large zero-filled tail for small datasets.
    const std::uint64_t want = std::max<std::uint64_t>(64u << 10, std::min<std::uint64_t>(r.data.size(), 16u << 20));
    const std::uint64_t first = std::max<std::uint64_t>(64u << 10, 4 * std::min<std::uint64_t>(in.size(), 1u << 20));
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(r.data.empty() ? first : want, cap - r.data.size()));
    const std::size_t old = r.data.size();
    r.data.resize(old + chunk);
    zs.next_out = r.data.data() + old;
    zs.avail_out = static_cast<uInt>(chunk);
    if (zs.avail_in == 0) {
      const std::uint64_t take = std::min<std::uint64_t>(left_in, 1u << 30);
      zs.avail_in = static_cast<uInt>(take);
      left_in -= take;
    }
    rc = inflate(&zs, Z_NO_FLUSH);
    r.data.resize(old + (chunk - zs.avail_out));
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && left_in == 0) break;  // input ended before the stream did
    if (rc == Z_BUF_ERROR) rc = Z_OK;
  }
  r.complete = rc == Z_STREAM_END;
  r.corrupt = !r.complete && !r.limit;
  r.consumed = zs.total_in;
  inflateEnd(&zs);
  return r;
}

// Guesses how a dataset without a usable transfer syntax is encoded, from its first element.
Encoding sniff_encoding(std::span<const std::uint8_t> d) {
  if (d.size() >= 8) {
    const bool explicit_vr = is_known_vr(static_cast<VR>(d[4] << 8 | d[5]));
    const bool big = d[0] == 0 && d[1] != 0;  // group 0x0008 reads "00 08" in big endian, "08 00" in little
    return {explicit_vr, big};
  }
  return {};
}

class Analysis {
 public:
  Analysis(std::span<const std::uint8_t> file, const std::string& target, const AnalyzeOptions& opt,
           const MappedFile* mf)
      : f_(file), target_(target), opt_(opt), mf_(mf) {}

  FileReport run() {
    r_.fields["size"] = f_.size();
    r_.part10 = f_.size() >= kPreamble + 4 && std::memcmp(f_.data() + kPreamble, "DICM", 4) == 0;
    if (!r_.part10) {
      raw_dataset();
    } else {
      r_.preamble = classify_preamble(f_);
      preamble_findings();
      part10();
    }
    finish();
    return std::move(r_);
  }

 private:
  std::span<const std::uint8_t> f_;
  const std::string& target_;
  const AnalyzeOptions& opt_;
  const MappedFile* mf_;
  FileReport r_;
  std::size_t structure_count_ = 0;
  std::vector<std::uint64_t> exec_points_;
  bool trailing_stop_ = false;  // the dataset walk stopped at bytes that follow the dataset

  void add(std::string_view check, json ev, std::string title = {}) {
    r_.findings.push_back(make_finding(check, target_, std::move(ev), std::move(title)));
  }

  void structure(const Issue& i, bool inflated) {
    if (++structure_count_ > opt_.max_structure_findings) return;
    json ev{{"problem", problem_name(i.problem)}, {"tag", tag_json(i.tag)}, {"offset", i.offset}};
    if (inflated) ev["offset_in"] = "inflated dataset";
    if (!i.detail.empty()) ev["detail"] = i.detail;
    add("file.structure.invalid", std::move(ev),
        fmt::format("{} at {} (offset {})", problem_name(i.problem), tag_string(i.tag), i.offset));
  }

  void meta_problem(const char* problem, std::string detail) {
    add("file.meta.invalid", json{{"problem", problem}, {"detail", detail}}, fmt::format("File Meta: {}", detail));
  }

  void preamble_findings() {
    const PreambleInfo& p = r_.preamble;
    json pj{{"kind", preamble_kind_name(p.kind)}, {"nonzero_bytes", p.nonzero_bytes}};
    if (p.exec) pj["format"] = exec_kind_name(p.exec->kind);
    r_.fields["preamble"] = pj;
    switch (p.kind) {
      case PreambleKind::tiff:
      case PreambleKind::bigtiff:
        add("file.preamble.tiff", json{{"format", p.kind == PreambleKind::tiff ? "TIFF" : "BigTIFF"}});
        break;
      case PreambleKind::nonzero:
        add("file.preamble.nonzero", json{{"nonzero_bytes", p.nonzero_bytes}},
            fmt::format("Preamble has {} non-zero bytes and no known header", p.nonzero_bytes));
        break;
      case PreambleKind::executable:
      case PreambleKind::archive:
        exec_points_ = p.exec->points;
        break;  // reported after the dataset walk, once its pointers are resolved to elements
      default:
        break;
    }
  }

  void part10() {
    // File Meta group: always explicit VR little endian (PS3.10 7.1).
    auto meta_bytes = f_.subspan(kPreamble + 4);
    Encoding meta_enc{true, false};
    if (meta_bytes.size() >= 8 && !is_known_vr(static_cast<VR>(meta_bytes[4] << 8 | meta_bytes[5]))) {
      meta_problem("encoding", "File Meta group is not encoded as explicit VR little endian");
      meta_enc.explicit_vr = false;
    }
    Collector meta(opt_, mf_, {}, false);
    Limits ml;
    ml.only_group = 0x0002;
    WalkResult mw = walk(meta_bytes, kPreamble + 4, meta_enc, meta, ml);
    for (const Issue& i : mw.issues)
      meta_problem(problem_name(i.problem), fmt::format("{} at {} (offset {}){}{}", problem_name(i.problem),
                                                         tag_string(i.tag), i.offset, i.detail.empty() ? "" : ": ",
                                                         i.detail));
    if (mw.elements == 0) meta_problem("missing", "no File Meta elements after DICM");
    if (mw.fatal) {
      r_.fields["meta"] = json::object();
      return;  // cannot tell where the dataset starts
    }
    if (mw.elements && !meta.have_group_length)
      meta_problem("group-length-missing", "(0002,0000) File Meta Information Group Length is missing");
    static constexpr std::uint8_t kVersion[2] = {0, 1};
    if (!meta.have_version)
      meta_problem("version-missing", "(0002,0001) File Meta Information Version is missing");
    else if (meta.version.size() != 2 || std::memcmp(meta.version.data(), kVersion, 2) != 0)
      meta_problem("version", "(0002,0001) File Meta Information Version is not 00 01");

    TransferSyntax ts;
    std::string ts_uid;
    bool ts_usable = false;
    if (!meta.have_ts) {
      meta_problem("transfer-syntax-missing", "(0002,0010) Transfer Syntax UID is missing");
    } else {
      ts_uid = uid_value(meta.ts);
      ts = transfer_syntax(ts_uid);
      if (!ts.known)
        meta_problem("transfer-syntax-unknown", "(0002,0010) Transfer Syntax UID is not a known transfer syntax");
      else
        ts_usable = true;
    }
    json mj = json::object();
    if (meta.have_ts) mj["transfer_syntax"] = printable(meta.ts);
    if (meta.have_meta_class) mj["media_storage_sop_class"] = printable(meta.meta_sop_class);
    if (!meta.have_meta_class)
      meta_problem("sop-class-missing", "(0002,0002) Media Storage SOP Class UID is missing");
    else if (uid_value(meta.meta_sop_class).empty())
      meta_problem("sop-class-empty", "(0002,0002) Media Storage SOP Class UID is empty (it is Type 1)");
    if (!meta.have_meta_instance)
      meta_problem("sop-instance-missing", "(0002,0003) Media Storage SOP Instance UID is missing");
    else if (uid_value(meta.meta_sop_instance).empty())
      meta_problem("sop-instance-empty", "(0002,0003) Media Storage SOP Instance UID is empty (it is Type 1)");
    r_.fields["meta"] = mj;

    const std::uint64_t ds_start = kPreamble + 4 + mw.end;
    auto ds = f_.subspan(ds_start);
    Encoding enc = ts_usable ? Encoding{ts.explicit_vr, ts.big_endian} : sniff_encoding(ds);

    Collector c(opt_, mf_, exec_points_, true);
    WalkResult w;
    bool inflated = false;
    Inflated inf;
    if (ts_usable && ts.deflated) {
      inflated = true;
      inf = inflate_raw(ds, opt_.max_inflated);
      r_.fields["deflated"] = json{{"compressed", inf.consumed}, {"inflated", inf.data.size()}};
      if (inf.limit)
        add("file.structure.invalid",
            json{{"problem", "deflate-limit"}, {"offset", ds_start}, {"limit", opt_.max_inflated}},
            fmt::format("Deflated dataset inflates past {} bytes (possible decompression bomb)", opt_.max_inflated));
      if (inf.corrupt)
        add("file.structure.invalid", json{{"problem", "deflate-corrupt"}, {"offset", ds_start}},
            "Deflated dataset is not a valid deflate stream");
      Collector ci(opt_, nullptr, {}, false);
      w = walk({inf.data.data(), inf.data.size()}, 0, {true, false}, ci, {});
      dataset_done(w, ci, meta, /*inflated=*/true);
      if (inf.complete && inf.consumed < ds.size()) {
        auto rest = ds.subspan(inf.consumed);
        // A gzip-style trailer (CRC-32 and size of the inflated data) is what some writers leave: benign.
        const bool gzip_trailer =
            rest.size() == 8 &&
            rd32(rest.data(), false) == crc32(0, inf.data.data(), static_cast<uInt>(inf.data.size())) &&
            rd32(rest.data() + 4, false) == static_cast<std::uint32_t>(inf.data.size());
        if (gzip_trailer)
          r_.fields["deflated"]["gzip_trailer"] = true;
        else
          trailing(ds_start + inf.consumed, "after the deflate stream");
      }
    } else {
      w = walk(ds, ds_start, enc, c, {});
      if (w.fatal && w.elements == 0 && enc.explicit_vr && !w.issues.empty() &&
          w.issues.back().problem == Problem::invalid_vr) {
        // Some writers label an implicit VR dataset with an explicit transfer syntax; readers such as pydicom
        // fall back to implicit VR, so the checks must see what those readers see.
        Collector ci(opt_, mf_, exec_points_, true);
        WalkResult wi = walk(ds, ds_start, Encoding{false, enc.big_endian}, ci, {});
        if (wi.elements > 0) {
          meta_problem("transfer-syntax-mismatch",
                       "the dataset is encoded implicit VR, but (0002,0010) names an explicit VR transfer syntax");
          enc.explicit_vr = false;
          w = std::move(wi);
          dataset_done(w, ci, meta, false);
          finish_dataset(w, ts_usable, ts, enc, false, inf);
          return;
        }
      }
      dataset_done(w, c, meta, false);
    }
    finish_dataset(w, ts_usable, ts, enc, inflated, inf);
  }

  void finish_dataset(const WalkResult& w, bool ts_usable, const TransferSyntax& ts, Encoding enc, bool inflated,
                      const Inflated& inf) {
    // Trailing bytes after a complete dataset do not make it unparseable.
    r_.parseable = (!w.fatal || trailing_stop_) && !(inflated && (inf.corrupt || inf.limit));
    r_.fields["elements"] = w.elements;
    if (ts_usable && enc.explicit_vr == ts.explicit_vr)
      r_.fields["encoding"] = std::string(ts.name);
    else
      r_.fields["encoding"] = std::string(enc.explicit_vr ? "explicit VR " : "implicit VR ") +
                              (enc.big_endian ? "big endian" : "little endian") + " (guessed)";
  }

  // Applies the structure, trailing-data, payload and document checks to a finished dataset walk.
  void dataset_done(WalkResult& w, Collector& c, const Collector& meta, bool inflated) {
    // A fatal stop at a top-level element boundary after the pixel data (or on bytes that cannot be an
    // element) means the dataset ended and something else follows it.
    std::optional<Issue> stop;
    if (w.fatal && !w.issues.empty()) stop = w.issues.back();
    bool trailing_stop = false;
    if (stop && w.stopped_at_boundary && !inflated) {
      // After the pixel data, bytes that do not form an element are appended data. Before it, only a tail too
      // short for a header or a tag that goes backwards reads as "something else follows"; an invalid VR with an
      // ascending tag is a broken element in the middle of the dataset.
      trailing_stop = w.elements > 0 && (w.has_pixel_data || stop->problem == Problem::truncated_header ||
                                         stop->tag < w.last_top_tag);
    }
    for (std::size_t i = 0; i < w.issues.size(); ++i) {
      if (trailing_stop && i + 1 == w.issues.size()) break;
      structure(w.issues[i], inflated);
    }
    if (structure_count_ > opt_.max_structure_findings)
      r_.fields["structure_problems_not_listed"] = structure_count_ - opt_.max_structure_findings;
    if (trailing_stop) trailing(stop->offset, fmt::format("after {}", tag_string(w.last_top_tag)));
    trailing_stop_ = trailing_stop;

    if (r_.part10) meta_match(meta, c);  // meta UIDs must match the dataset's

    for (auto& [hit, e] : c.hits) payload(hit, e, inflated);
    r_.fields["bytes_scanned"] = c.scanned;
    r_.fields["scan_complete"] = c.scan_complete;
    if (c.have_document) document(c);
    if (r_.preamble.exec) preamble_exec(c, inflated);
  }

  void meta_match(const Collector& meta, const Collector& c) {
    if (meta.have_meta_class && c.have_sop_class && uid_value(meta.meta_sop_class) != uid_value(c.sop_class))
      meta_problem("sop-class-mismatch", "(0002,0002) Media Storage SOP Class UID differs from (0008,0016)");
    if (meta.have_meta_instance && c.have_sop_instance &&
        uid_value(meta.meta_sop_instance) != uid_value(c.sop_instance))
      meta_problem("sop-instance-mismatch", "(0002,0003) Media Storage SOP Instance UID differs from (0008,0018)");
  }

  void trailing(std::uint64_t at, std::string where) {
    const std::uint64_t len = f_.size() - at;
    add("file.trailing-data", json{{"offset", at}, {"length", len}, {"where", where}},
        fmt::format("{} bytes follow the end of the dataset ({})", len, where));
    auto rest = f_.subspan(at);
    auto hits = find_executables(rest.size() > opt_.full_scan_budget ? rest.first(opt_.full_scan_budget) : rest);
    for (auto& h : hits) {
      json ev{{"format", exec_kind_name(h.match.kind)}, {"detail", h.match.detail}, {"offset", at + h.offset},
              {"location", "after the dataset"}};
      if (is_archive(h.match.kind)) {
        add("file.payload.archive", std::move(ev), fmt::format("{} after the end of the dataset", h.match.detail));
      } else {
        r_.has_payload = true;
        add("file.payload.executable", std::move(ev),
            fmt::format("{} executable after the end of the dataset (offset {})", exec_kind_name(h.match.kind),
                        at + h.offset));
      }
    }
  }

  void payload(const ExecHit& h, const Element& e, bool inflated) {
    const std::uint64_t off = e.value_offset + h.offset;
    const char* where = e.fragment ? "pixel data fragment" : e.tag == kEncapsulatedDocument ? "encapsulated document" : "element value";
    json ev{{"format", exec_kind_name(h.match.kind)}, {"detail", h.match.detail}, {"tag", tag_json(e.fragment ? e.parent : e.tag)},
            {"element_offset", e.offset}, {"offset", off}, {"location", where}};
    char vrn[3];
    vr_name(e.vr, vrn);
    ev["vr"] = vrn;
    if (inflated) ev["offset_in"] = "inflated dataset";
    if (is_archive(h.match.kind)) {
      add("file.payload.archive", std::move(ev),
          fmt::format("{} inside {} {}", h.match.detail, where, tag_string(e.fragment ? e.parent : e.tag)));
      return;
    }
    r_.has_payload = true;
    add("file.payload.executable", std::move(ev),
        fmt::format("{} executable inside {} {} (offset {})", exec_kind_name(h.match.kind), where,
                    tag_string(e.fragment ? e.parent : e.tag), off));
  }

  void preamble_exec(const Collector& c, bool inflated) {
    const ExecMatch& m = *r_.preamble.exec;
    json points = json::array();
    bool body_in_element = false;
    for (std::uint64_t p : m.points) {
      json pj{{"offset", p}};
      if (p < kPreamble) {
        pj["location"] = "preamble";
      } else if (p >= f_.size()) {
        pj["location"] = "past the end of the file";
      } else {
        pj["location"] = "dataset";
        for (const auto& [q, e] : c.resolved)
          if (q == p) {
            pj["tag"] = tag_string(e.fragment ? e.parent : e.tag);
            char vrn[3];
            vr_name(e.vr, vrn);
            pj["vr"] = vrn;
            pj["element_offset"] = e.offset;
            pj["location"] = "element value";
            body_in_element = true;
            break;
          }
        if (inflated) pj["location"] = "deflated dataset";
      }
      points.push_back(pj);
    }
    json ev{{"format", exec_kind_name(m.kind)}, {"detail", m.detail}, {"points", points}};
    if (m.kind == ExecKind::pe || m.kind == ExecKind::dos_mz) ev["e_lfanew"] = m.points.empty() ? 0 : m.points[0];
    if (r_.preamble.kind == PreambleKind::archive) {
      add("file.payload.archive", ev, fmt::format("Preamble starts a {}", m.detail));
      return;
    }
    std::string title = fmt::format("Preamble is an executable header: {} ({})", exec_kind_name(m.kind), m.detail);
    for (const auto& pj : points)
      if (pj.contains("tag")) {
        title += fmt::format("; its body is in {} at offset {}", pj["tag"].get<std::string>(), pj["offset"].get<std::uint64_t>());
        break;
      }
    add("file.preamble.executable", ev, title);
    if (body_in_element) {
      // The element the header points at carries the program itself: executable content in an element value.
      for (const auto& pj : points)
        if (pj.contains("tag")) {
          r_.has_payload = true;
          add("file.payload.executable",
              json{{"format", exec_kind_name(m.kind)}, {"detail", "program body referenced by the preamble header"},
                   {"tag", pj["tag"]}, {"vr", pj["vr"]}, {"element_offset", pj["element_offset"]},
                   {"offset", pj["offset"]}, {"location", "element value"}},
              fmt::format("{} program body inside element {} (referenced by the preamble)", exec_kind_name(m.kind),
                          pj["tag"].get<std::string>()));
          break;
        }
    }
  }

  void document(const Collector& c) {
    ActiveContent ac = scan_document(c.document);
    json dj{{"content_type", ac.content_type}, {"size", c.document.size()}};
    if (c.have_mime) dj["mime_declared"] = printable(c.mime);
    r_.fields["encapsulated_document"] = dj;
    if (ac.active()) {
      json counts = json::object();
      std::string names;
      for (const auto& [k, n] : ac.counts) {
        counts[k] = n;
        names += (names.empty() ? "" : ", ") + k;
      }
      add("file.encapsulated.active",
          json{{"content_type", ac.content_type}, {"counts", counts}, {"streams_inflated", ac.streams_inflated},
               {"limits_hit", ac.limits_hit}, {"tag", "(0042,0011)"}},
          fmt::format("Encapsulated {} has active content: {}", ac.content_type, names));
    }
    if (c.have_mime && !mime_matches(printable(c.mime), c.document))
      add("file.encapsulated.active",
          json{{"problem", "mime-mismatch"}, {"mime_declared", printable(c.mime)}, {"content_type", ac.content_type},
               {"tag", "(0042,0012)"}},
          fmt::format("Declared MIME type {} does not match the document's content ({})", printable(c.mime),
                      ac.content_type));
  }

  void raw_dataset() {
    // Not Part 10: a raw dataset (no preamble, no meta) is still DICOM if it walks cleanly.
    r_.fields["preamble"] = json{{"kind", "absent"}};
    if (f_.size() >= 8) {
      const std::uint16_t g_le = rd16(f_.data(), false), g_be = rd16(f_.data(), true);
      Encoding candidates[3] = {{true, false}, {false, false}, {true, true}};
      for (const Encoding& enc : candidates) {
        const std::uint16_t g = enc.big_endian ? g_be : g_le;
        if (g != 0x0002 && g != 0x0008) continue;
        if (enc.explicit_vr != is_known_vr(static_cast<VR>(f_[4] << 8 | f_[5]))) continue;
        Collector c(opt_, mf_, {}, false);
        WalkResult w = walk(f_, 0, enc, c, {});
        if (w.elements < 3 || (w.fatal && !w.stopped_at_boundary)) continue;
        r_.fields["raw_dataset"] = enc.explicit_vr ? (enc.big_endian ? "explicit big endian" : "explicit little endian")
                                                   : "implicit little endian";
        meta_problem("no-meta", "no preamble and File Meta group: a raw dataset, not a DICOM Part 10 file");
        Collector none(opt_, nullptr, {}, false);
        dataset_done(w, c, none, false);
        r_.fields["elements"] = w.elements;
        r_.parseable = !w.fatal || trailing_stop_;
        return;
      }
    }
    r_.verdict = Verdict::not_dicom;
    add("file.not-dicom", json{{"size", f_.size()}}, "No DICM marker at offset 128 and not a DICOM dataset");
  }

  void finish() {
    if (r_.verdict == Verdict::not_dicom) return;
    Severity worst = Severity::info;
    bool structural = false, any = false;
    for (const Finding& f : r_.findings) {
      worst = std::max(worst, f.severity);
      structural |= f.check == "file.structure.invalid" || f.check == "file.meta.invalid";
      any |= f.severity >= Severity::low;
    }
    if (worst >= Severity::high) r_.verdict = Verdict::dangerous;
    else if (structural) r_.verdict = Verdict::malformed;
    else if (any) r_.verdict = Verdict::suspicious;
    else r_.verdict = Verdict::clean;
  }
};

}  // namespace

PreambleInfo classify_preamble(std::span<const std::uint8_t> file) {
  PreambleInfo p;
  if (file.size() < kPreamble) return p;
  auto pre = file.first(kPreamble);
  p.nonzero_bytes = static_cast<int>(std::count_if(pre.begin(), pre.end(), [](std::uint8_t b) { return b != 0; }));
  if (p.nonzero_bytes == 0) {
    p.kind = PreambleKind::zero;
    return p;
  }
  bool big;
  if (is_tiff(pre, big)) {
    p.kind = big ? PreambleKind::bigtiff : PreambleKind::tiff;
    return p;
  }
  if (auto m = classify_at(file, false)) {
    p.kind = is_archive(m->kind) ? PreambleKind::archive : PreambleKind::executable;
    p.exec = std::move(m);
    return p;
  }
  p.kind = p.nonzero_bytes <= kSparseMaxNonzero ? PreambleKind::sparse : PreambleKind::nonzero;
  return p;
}

namespace {
FileReport analyze_impl(std::span<const std::uint8_t> file, const std::string& target, const AnalyzeOptions& opt,
                        const MappedFile* mf) {
  return Analysis(file, target, opt, mf).run();
}
}  // namespace

FileReport analyze_bytes(std::span<const std::uint8_t> file, const std::string& target, const AnalyzeOptions& opt) {
  return analyze_impl(file, target, opt, nullptr);
}

FileReport analyze_file(const std::string& path, const AnalyzeOptions& opt) {
  MappedFile mf;
  if (std::string err = mf.open(path); !err.empty()) {
    FileReport r;
    r.verdict = Verdict::error;
    r.error = err;
    return r;
  }
  if (!mf.mapped()) return analyze_impl(mf.bytes(), path, opt, &mf);
  // A mapped file truncated by another process while we read it raises SIGBUS: turn that into an error verdict.
  struct Job {
    const MappedFile& mf;
    const std::string& path;
    const AnalyzeOptions& opt;
    FileReport result;
  };
  auto* job = new Job{mf, path, opt, {}};
  const bool ok = run_guarded_against_sigbus(
      [](void* p) {
        auto* j = static_cast<Job*>(p);
        j->result = analyze_impl(j->mf.bytes(), j->path, j->opt, &j->mf);
      },
      job);
  if (!ok) {
    // `job` is abandoned, not deleted: the interrupted analysis may have left it half-assigned.
    FileReport r;
    r.verdict = Verdict::error;
    r.error = "the file shrank while it was being read (changed by another program?)";
    return r;
  }
  FileReport r = std::move(job->result);
  delete job;
  return r;
}

Record to_record(const std::string& path, FileReport&& r) {
  Record rec{"file", path, verdict_name(r.verdict), std::move(r.fields), std::move(r.findings)};
  rec.fields["type"] = "file";
  rec.fields["path"] = path;
  rec.fields["verdict"] = verdict_name(r.verdict);
  nlohmann::json checks = nlohmann::json::array();
  for (const Finding& f : rec.findings) checks.push_back(f.check);
  rec.fields["checks"] = std::move(checks);
  if (!r.error.empty()) rec.fields["error"] = r.error;
  return rec;
}

}  // namespace dg::files
