#include "files/analyze.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <set>

#include "dicom/dictionary.h"
#include "dicom/part10.h"
#include "dicom/uids.h"
#include "dicom/walker.h"
#include "files/active_content.h"
#include "files/mapped_file.h"
#include "util/memory_budget.h"

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
    case PreambleKind::document: return "document";
    case PreambleKind::sparse: return "sparse";
    case PreambleKind::nonzero: return "nonzero";
  }
  return "?";
}

namespace {

constexpr std::size_t kPreamble = part10::kPreambleSize;
// A few isolated non-zero bytes with no recognisable header are seen in real vendor files (for example a
// single 0x01 at offset 17 in pydicom's dicomdirtests CT images); they carry no executable meaning.
constexpr int kSparseMaxNonzero = 4;
constexpr std::size_t kMinSearched = 16;   // a shorter value cannot hold a validated program header
constexpr std::size_t kMaxHits = 16;       // programs listed per file
constexpr std::size_t kJunction = 4096;    // bytes either side of two adjacent values searched as one
constexpr std::size_t kMaxDocuments = 16;  // copies of (0042,0011) scanned
constexpr std::size_t kPdfHeaderReach = 1024;  // PDF readers accept "%PDF-" anywhere in the first 1024 bytes
constexpr Tag kDirectoryRecordSequence = tag(0x0004, 0x1220);

// Printable ASCII of an untrusted short value, for non-PHI fields such as UIDs and MIME types.
std::string printable(std::span<const std::uint8_t> v, std::size_t max = 64) {
  std::string s;
  for (std::uint8_t c : v.first(std::min(v.size(), max))) s.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  while (!s.empty() && (s.back() == ' ' || s.back() == '?')) s.pop_back();
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

bool is_text_vr(VR v) { return v == vr("LT") || v == vr("ST") || v == kUT || v == kUC || v == kUR; }
bool is_directory_offset(Tag t) {
  return t == tag(0x0004, 0x1200) || t == tag(0x0004, 0x1202) || t == tag(0x0004, 0x1400) || t == tag(0x0004, 0x1420);
}

json tag_json(Tag t) { return tag_string(t); }

json marker_counts(const ActiveContent& ac) {
  json counts = json::object();
  for (const auto& [m, n] : ac.counts) counts[m] = n;
  return counts;
}
std::string marker_names(const ActiveContent& ac) {
  std::string names;
  for (const auto& kv : ac.counts) names += (names.empty() ? "" : ", ") + kv.first;
  return names;
}

// One copy of (0042,0011), scanned when it was met (a stream walk's window moves on).
struct Document {
  std::uint64_t value_offset = 0, size = 0;
  bool truncated = false;          // a stream walk gave only its start
  std::vector<std::uint8_t> head;  // its first bytes, for the MIME check
  ActiveContent ac;
};

// A program header found in a value: `e` holds it (for a header that runs on into the next value, the first of
// the two, and `split_with` names the second).
struct Hit {
  ExecHit hit;
  Element e;
  std::uint64_t offset;  // of the header, in the walked stream's offsets
  Tag split_with = 0;
};

// Collects what the checks need from a walk; copies the few values it keeps, and never keeps a value of the
// dataset beyond this file's analysis.
class Collector : public Visitor {
 public:
  struct Setup {
    const AnalyzeOptions* opt = nullptr;
    const MappedFile* mf = nullptr;          // pages of a mapped file may be released once searched
    std::vector<std::uint64_t> pointers;     // preamble header pointers to resolve to elements (file offsets)
    std::span<const std::uint8_t> data;      // the walked bytes when held whole: headers are validated past a value
    std::uint64_t origin = 0;                // offset of data[0]
    util::MemoryLease* lease = nullptr;      // taken before a document is decoded
    bool big_endian = false;                 // how the walked dataset encodes numbers
    bool shell_lines = false;                // look for lines a shell would run in text values
  };
  explicit Collector(Setup s) : s_(std::move(s)) {}

  // A line of a text value that reads as a command (for a file whose preamble bash would run): its offset.
  std::optional<std::uint64_t> shell_line;
  Tag shell_line_tag = 0;

  // Top-level values (the first copy, as DCMTK keeps).
  std::string sop_class, sop_instance, mime;
  bool have_sop_class = false, have_sop_instance = false, have_mime = false;
  std::vector<Document> documents;
  std::vector<Hit> hits;
  std::vector<std::pair<std::uint64_t, Element>> resolved;  // preamble pointer -> element holding it
  std::uint64_t scanned = 0;
  bool scan_complete = true;

  // The shape of the top-level Pixel Data and the Image Pixel module values that size it.
  bool pixel_fragments = false, pixel_defined = false;
  std::uint64_t pixel_offset = 0, pixel_length = 0;
  std::uint32_t rows = 0, columns = 0, samples = 1, bits_allocated = 0, frames = 1;
  bool have_rows = false, have_columns = false, have_bits = false;
  std::string photometric;
  // Encapsulated Pixel Data: the Basic Offset Table (the first fragment) and where each later fragment starts,
  // relative to the first byte after the table (PS3.5 A.4).
  std::vector<std::uint32_t> offset_table;
  std::vector<std::uint64_t> fragment_starts;
  std::uint64_t offset_table_at = 0, fragments_base = 0;
  bool in_pixel_fragments = false, seen_offset_table = false;
  // DICOMDIR record offsets (PS3.3 F.3.2.2: from the first byte of the file), and each record's links.
  struct DirOffset {
    Tag tag;
    std::uint64_t element_offset;
    std::uint32_t value;
    std::uint64_t record;  // the record item holding it (0 at the top level)
  };
  std::vector<DirOffset> dir_offsets;
  std::vector<std::uint64_t> record_items;  // offsets of the items of the Directory Record Sequence

  void sequence(const Element& e) override {
    if (e.depth == 0 && e.tag == kPixelData) {
      pixel_fragments = true;
      pixel_offset = e.offset;
      in_pixel_fragments = true;
    }
  }
  void sequence_end(std::uint64_t) override { in_pixel_fragments = false; }
  void item(const Element& e) override {
    if (e.parent == kDirectoryRecordSequence && record_items.size() < 1'000'000) {
      record_items.push_back(e.offset);
      record_ = e.offset;
    }
  }

  void element(const Element& e, std::span<const std::uint8_t> value) override {
    if (e.depth == 0 && !e.fragment) top_level(e, value);
    if (s_.shell_lines && !shell_line && is_string_vr(e.vr)) find_shell_line(e, value);
    if (e.fragment && in_pixel_fragments && e.depth == 0) fragment(e, value);
    if (is_directory_offset(e.tag) && value.size() == 4 && dir_offsets.size() < 1'000'000)
      dir_offsets.push_back({e.tag, e.offset, rd32(value.data(), s_.big_endian), e.depth == 0 ? 0 : record_});
    const std::uint64_t full = e.truncated ? e.length : value.size();
    for (std::uint64_t p : s_.pointers)
      if (p >= e.value_offset && p - e.value_offset < full) resolved.emplace_back(p, e);
    search(e, value);
  }

 private:
  Setup s_;
  std::uint64_t spent_ = 0;
  std::uint64_t record_ = 0;  // the directory record item being read
  // The tail of the last value searched, for programs that run on from one value into the next.
  bool tail_valid_ = false;
  std::uint64_t tail_end_ = 0;
  std::vector<std::uint8_t> tail_;
  Element tail_element_{};

  std::uint64_t budget_left() const {
    return spent_ >= s_.opt->full_scan_budget ? 0 : s_.opt->full_scan_budget - spent_;
  }

  void top_level(const Element& e, std::span<const std::uint8_t> value) {
    auto keep = [&](std::string& out, bool& have) {
      if (!have) out = uids::value(value);
      have = true;
    };
    switch (e.tag) {
      case kSOPClassUID: keep(sop_class, have_sop_class); break;
      case kSOPInstanceUID: keep(sop_instance, have_sop_instance); break;
      case kMIMETypeOfEncapsulatedDocument:
        if (!have_mime) mime = printable(value);
        have_mime = true;
        break;
      case kEncapsulatedDocument: document(e, value); break;
      case kPixelData:
        pixel_defined = true;
        pixel_offset = e.offset;
        pixel_length = e.truncated ? e.length : value.size();
        break;
      case tag(0x0028, 0x0002): samples = us(value, samples); break;
      case tag(0x0028, 0x0010): rows = us(value, 0); have_rows = true; break;
      case tag(0x0028, 0x0011): columns = us(value, 0); have_columns = true; break;
      case tag(0x0028, 0x0100): bits_allocated = us(value, 0); have_bits = true; break;
      case tag(0x0028, 0x0008): frames = integer_string(value, 1); break;
      case tag(0x0028, 0x0004): photometric = printable(value, 16); break;
      default: break;
    }
  }

  // A line (after a line break, up to the next one) of printable text with a letter and a blank in it.
  void find_shell_line(const Element& e, std::span<const std::uint8_t> v) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] != '\n') continue;
      std::size_t j = i + 1;
      bool letter = false, blank = false, ok = true;
      for (; j < v.size() && v[j] != '\n'; ++j) {
        const std::uint8_t c = v[j];
        if (c == '\r' || c == '\t' || c == ' ') {
          blank |= c != '\r';
          continue;
        }
        if (c < 0x20 || c >= 0x7F) {
          ok = false;
          break;
        }
        letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      }
      if (ok && letter && blank && j - i > 3) {
        shell_line = e.value_offset + i + 1;
        shell_line_tag = e.tag;
        return;
      }
    }
  }
  static bool is_string_vr(VR v) {
    switch (v) {
      case vr("AE"): case vr("AS"): case vr("CS"): case vr("DA"): case vr("DS"): case vr("DT"): case vr("IS"):
      case vr("LO"): case vr("LT"): case vr("PN"): case vr("SH"): case vr("ST"): case vr("TM"): case vr("UC"):
      case vr("UI"): case vr("UR"): case vr("UT"): case vr("UN"):
        return true;
      default:
        return false;
    }
  }

  std::uint32_t us(std::span<const std::uint8_t> v, std::uint32_t otherwise) const {
    return v.size() >= 2 ? rd16(v.data(), s_.big_endian) : otherwise;
  }
  static std::uint32_t integer_string(std::span<const std::uint8_t> v, std::uint32_t otherwise) {
    std::uint64_t n = 0;
    bool digits = false;
    for (std::uint8_t c : v) {
      if (c == ' ' || c == '\0' || c == '+') {
        if (digits) break;
        continue;
      }
      if (c < '0' || c > '9') return otherwise;
      n = std::min<std::uint64_t>(n * 10 + (c - '0'), 0xFFFFFFFFu);
      digits = true;
    }
    return digits ? static_cast<std::uint32_t>(n) : otherwise;
  }

  // The first fragment is the Basic Offset Table: UL offsets (little endian, as all encapsulated data) of each
  // frame's first fragment from the first byte after the table.
  void fragment(const Element& e, std::span<const std::uint8_t> value) {
    if (!seen_offset_table) {
      seen_offset_table = true;
      offset_table_at = e.offset;
      fragments_base = e.value_offset + (e.truncated ? e.length : value.size());
      for (std::size_t i = 0; i + 4 <= value.size() && offset_table.size() < 1'000'000; i += 4)
        offset_table.push_back(rd32(value.data() + i, false));
      return;
    }
    if (fragment_starts.size() < 1'000'000) fragment_starts.push_back(e.offset - fragments_base);
  }

  // Every copy is scanned: readers differ in which copy of a repeated element they keep.
  void document(const Element& e, std::span<const std::uint8_t> value) {
    if (documents.size() >= kMaxDocuments) return;
    if (s_.lease) s_.lease->acquire();  // decoding a PDF's streams needs big buffers
    Document d;
    d.value_offset = e.value_offset;
    d.size = e.truncated ? e.length : value.size();
    d.truncated = e.truncated;
    d.head.assign(value.begin(), value.begin() + std::min<std::size_t>(value.size(), kSniffBytes));
    d.ac = scan_document(value);
    if (e.truncated) d.ac.limits_hit = true;
    documents.push_back(std::move(d));
  }

  // Every value is searched (a program is bytes, whatever the VR says): in full while the per-file budget
  // lasts, then by its first head_scan bytes. A mapped file is searched in slices whose pages are released
  // after each, so a worker holds a few MiB of a big file at a time.
  void search(const Element& e, std::span<const std::uint8_t> value) {
    if (value.size() < kMinSearched) return;
    const AnalyzeOptions& opt = *s_.opt;
    std::span<const std::uint8_t> scan = value;
    if (value.size() > budget_left() && value.size() > opt.head_scan) {
      scan = value.first(opt.head_scan);
      scan_complete = false;
    }
    if (e.truncated) scan_complete = false;
    spent_ += scan.size();
    scanned += scan.size();
    if (hits.size() < kMaxHits) {
      constexpr std::size_t kSlice = 4u << 20;
      const bool slices = s_.mf && s_.mf->mapped();
      for (std::size_t at = 0; at < scan.size() && hits.size() < kMaxHits;) {
        const std::size_t len = slices ? std::min(kSlice, scan.size() - at) : scan.size();
        SearchOptions so;
        so.max_hits = kMaxHits - hits.size();
        so.script_at_start = at == 0 && !is_text_vr(e.vr);
        if (!s_.data.empty()) {
          const std::uint64_t rel = e.value_offset - s_.origin + at + len;
          if (rel <= s_.data.size()) so.extent = s_.data.subspan(rel);
        }
        for (auto& h : find_executables(scan.subspan(at, len), so)) {
          const std::uint64_t off = e.value_offset + at + h.offset;
          hits.push_back({std::move(h), e, off});
        }
        if (slices && len >= (1u << 20)) s_.mf->release(e.value_offset + at, len);
        at += len;
      }
      if (s_.big_endian) swapped(e, scan);
      junction(e, value);
    }
  }

  // In a big endian dataset, words of OW, US, OL, FD ... values are stored byte-swapped: a program there is
  // contiguous for any reader that decodes the value, and in the file a PACS writes after converting it to
  // little endian. Searched as decoded, in slices.
  void swapped(const Element& e, std::span<const std::uint8_t> scan) {
    std::size_t w = 0;
    switch (e.vr) {
      case kOW: case vr("US"): case vr("SS"): w = 2; break;
      case kOL: case kOF: case kUL: case vr("SL"): case vr("FL"): case vr("AT"): w = 4; break;
      case kOD: case vr("FD"): case kOV: case kSV: case kUV: w = 8; break;
      default: return;
    }
    constexpr std::size_t kSlice = 1u << 20;
    std::vector<std::uint8_t> buf;
    for (std::size_t at = 0; at + w <= scan.size() && hits.size() < kMaxHits; at += kSlice) {
      const std::size_t len = std::min(kSlice, scan.size() - at) / w * w;
      buf.resize(len);
      for (std::size_t i = 0; i < len; i += w)
        for (std::size_t k = 0; k < w; ++k) buf[i + k] = scan[at + i + w - 1 - k];
      SearchOptions so;
      so.max_hits = kMaxHits - hits.size();
      so.script_at_start = false;
      for (auto& h : find_executables(buf, so)) {
        h.match.detail += ", byte-swapped in the file (big endian words)";
        hits.push_back({std::move(h), e, e.value_offset + at + h.offset});
      }
    }
  }

  // A header near the end of the previous value that needs bytes of this one (the two values adjacent: only
  // this element's header lies between them) is searched in the two values joined.
  void junction(const Element& e, std::span<const std::uint8_t> value) {
    if (tail_valid_ && e.offset == tail_end_ && has_candidate(tail_)) {
      std::vector<std::uint8_t> joined(tail_);
      const std::size_t head = std::min(value.size(), kJunction);
      joined.insert(joined.end(), value.begin(), value.begin() + head);
      const std::span<const std::uint8_t> j(joined);
      SearchOptions so;
      so.max_hits = kMaxHits - hits.size();
      so.extent = j.subspan(tail_.size());
      so.script_at_start = false;
      for (auto& h : find_executables(j.first(tail_.size()), so)) {
        if (classify_at(std::span<const std::uint8_t>(tail_).subspan(h.offset), true)) continue;  // whole already
        const std::uint64_t at = tail_end_ - tail_.size() + h.offset;
        hits.push_back({std::move(h), tail_element_, at, e.fragment ? e.parent : e.tag});
      }
    }
    tail_valid_ = !e.truncated;
    tail_end_ = e.value_offset + value.size();
    const std::size_t n = std::min(value.size(), kJunction);
    tail_.assign(value.end() - static_cast<std::ptrdiff_t>(n), value.end());
    tail_element_ = e;
  }
};

class Analysis {
 public:
  Analysis(std::span<const std::uint8_t> file, const std::string& target, const AnalyzeOptions& opt,
           const MappedFile* mf, util::MemoryLease& lease)
      : f_(file), target_(target), opt_(opt), mf_(mf), lease_(lease) {}

  FileReport run() {
    r_.fields["size"] = f_.size();
    r_.part10 = part10::has_marker(f_);
    if (!r_.part10) {
      raw_dataset();
    } else {
      r_.preamble = classify_preamble(f_);
      preamble_findings();
      part10();
    }
    zip_directory();
    finish();
    return std::move(r_);
  }

 private:
  std::span<const std::uint8_t> f_;
  const std::string& target_;
  const AnalyzeOptions& opt_;
  const MappedFile* mf_;
  FileReport r_;
  util::MemoryLease& lease_;  // held from the first big buffer to the end of this file (owned by the caller, so
                              // that it is given back even when a SIGBUS cuts the analysis short)
  std::size_t structure_count_ = 0;
  std::vector<std::uint64_t> exec_points_;
  bool trailing_stop_ = false;  // the dataset walk stopped at bytes that follow the dataset
  std::set<std::uint64_t> reported_;  // offsets of programs already reported

  void add(std::string_view check, json ev, std::string title = {}) {
    r_.findings.push_back(make_finding(check, target_, std::move(ev), std::move(title)));
  }

  Collector::Setup setup(std::span<const std::uint8_t> data, std::uint64_t origin, bool file_offsets) {
    Collector::Setup s;
    s.opt = &opt_;
    s.mf = file_offsets ? mf_ : nullptr;
    if (file_offsets) s.pointers = exec_points_;
    s.data = data;
    s.origin = origin;
    s.lease = &lease_;
    s.shell_lines = r_.preamble.shell_runs;
    return s;
  }

  void structure(const Issue& i, bool inflated) {
    if (++structure_count_ > opt_.max_structure_findings) return;
    json ev{{"problem", problem_name(i.problem)}, {"tag", tag_json(i.tag)}, {"offset", i.offset}};
    if (inflated) ev["offset_in"] = "inflated dataset";
    if (!i.detail.empty()) ev["detail"] = i.detail;
    add("file.structure.invalid", std::move(ev),
        fmt::format("{} at {} (offset {})", problem_name(i.problem), tag_string(i.tag), i.offset));
  }

  void structure_problem(const char* problem, Tag t, std::uint64_t offset, std::string detail, bool inflated = false) {
    if (++structure_count_ > opt_.max_structure_findings) return;
    json ev{{"problem", problem}, {"tag", tag_json(t)}, {"offset", offset}, {"detail", detail}};
    if (inflated) ev["offset_in"] = "inflated dataset";
    add("file.structure.invalid", std::move(ev), fmt::format("{} at {} (offset {})", problem, tag_string(t), offset));
  }

  void meta_problem(const char* problem, std::string detail) {
    add("file.meta.invalid", json{{"problem", problem}, {"detail", detail}}, fmt::format("File Meta: {}", detail));
  }

  void preamble_findings() {
    const PreambleInfo& p = r_.preamble;
    // Built in place (an initializer list would copy each value once more: this runs for every file).
    json& pj = r_.fields["preamble"];
    pj["kind"] = preamble_kind_name(p.kind);
    pj["nonzero_bytes"] = p.nonzero_bytes;
    if (p.exec) pj["format"] = exec_kind_name(p.exec->kind);
    if (p.document) pj["format"] = document_kind_name(*p.document);
    switch (p.kind) {
      case PreambleKind::tiff:
      case PreambleKind::bigtiff:
        add("file.preamble.tiff", json{{"format", p.kind == PreambleKind::tiff ? "TIFF" : "BigTIFF"}});
        break;
      case PreambleKind::nonzero:
        if (!p.shell_runs) nonzero_preamble(nullptr);  // else once the dataset says whether it holds commands
        break;
      case PreambleKind::document:
        polyglot_document(*p.document, 0, "preamble");
        break;
      case PreambleKind::executable:
      case PreambleKind::archive:
        exec_points_ = p.exec->points;
        break;  // reported after the dataset walk, once its pointers are resolved to elements
      default:
        break;
    }
  }

  // A preamble bash would run: a program when a text value of the file holds a command line for it, otherwise
  // unexplained data (with the note that a shell would run it).
  void nonzero_preamble(const Collector* c) {
    const PreambleInfo& p = r_.preamble;
    if (c && c->shell_line) {
      add("file.preamble.executable",
          json{{"format", "shell script"},
               {"detail", "bash runs the file as a script (no zero byte in its first line), and a text value holds a command line"},
               {"points", json::array({json{{"offset", *c->shell_line}, {"tag", tag_string(c->shell_line_tag)},
                                            {"location", "element value"}}})}},
          fmt::format("Preamble makes bash run the file as a shell script; a command line is in {} at offset {}",
                      tag_string(c->shell_line_tag), *c->shell_line));
      return;
    }
    json ev{{"nonzero_bytes", p.nonzero_bytes}};
    std::string title = fmt::format("Preamble has {} non-zero bytes and no known header", p.nonzero_bytes);
    if (p.shell_runs) {
      ev["shell_runs"] = true;
      title += "; bash would run the file as a shell script";
    }
    add("file.preamble.nonzero", std::move(ev), std::move(title));
  }

  // The file also opens as a document: reported with what a PDF reader would find active in it.
  void polyglot_document(DocumentKind k, std::uint64_t at, const std::string& where) {
    json ev{{"format", document_kind_name(k)}, {"offset", at}, {"location", where}};
    std::string title = fmt::format("The file also opens as a {} document ({} at offset {})", document_kind_name(k),
                                    where, at);
    if (k == DocumentKind::pdf) {
      lease_.acquire();
      const auto rest = f_.subspan(at);
      const ActiveContent ac = scan_pdf(rest.first(std::min<std::size_t>(rest.size(), opt_.full_scan_budget)));
      if (ac.active()) {
        ev["active"] = marker_counts(ac);
        title += ", with active content: " + marker_names(ac);
      }
    }
    add("file.polyglot.document", std::move(ev), std::move(title));
  }

  void part10() {
    // The meta group's values are searched like any other, and preamble pointers into it resolved.
    Collector meta(setup(f_.subspan(part10::kMetaOffset), part10::kMetaOffset, true));
    const part10::FileMeta m = part10::read_meta(f_, &meta);
    if (!m.explicit_vr) meta_problem("encoding", "File Meta group is not encoded as explicit VR little endian");
    const WalkResult& mw = m.walk;
    for (const Issue& i : mw.issues)
      meta_problem(problem_name(i.problem), fmt::format("{} at {} (offset {}){}{}", problem_name(i.problem),
                                                         tag_string(i.tag), i.offset, i.detail.empty() ? "" : ": ",
                                                         i.detail));
    if (mw.elements == 0) meta_problem("missing", "no File Meta elements after DICM");
    if (mw.fatal) {
      r_.fields["meta"] = json::object();
      report_hits(meta, false);
      // The dataset cannot be found, but its bytes can still be searched.
      unparsed(m.dataset_start, "after a fatal File Meta problem");
      if (r_.preamble.exec) preamble_exec(meta, false);
      if (r_.preamble.kind == PreambleKind::nonzero && r_.preamble.shell_runs) nonzero_preamble(&meta);
      pdf_in_reach(std::vector<Document>{});
      return;
    }
    if (mw.elements && !m.has_group_length)
      meta_problem("group-length-missing", "(0002,0000) File Meta Information Group Length is missing");
    static constexpr std::uint8_t kVersion[2] = {0, 1};
    if (!m.has_version)
      meta_problem("version-missing", "(0002,0001) File Meta Information Version is missing");
    else if (m.version.size() != 2 || std::memcmp(m.version.data(), kVersion, 2) != 0)
      meta_problem("version", "(0002,0001) File Meta Information Version is not 00 01");

    const TransferSyntax& ts = m.transfer_syntax;
    const bool ts_usable = m.transfer_syntax_usable();
    if (!m.has_transfer_syntax)
      meta_problem("transfer-syntax-missing", "(0002,0010) Transfer Syntax UID is missing");
    else if (!ts.known)
      meta_problem("transfer-syntax-unknown", "(0002,0010) Transfer Syntax UID is not a known transfer syntax");
    auto bytes_of = [](const std::string& s) {
      return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    };
    json mj = json::object();
    if (m.has_transfer_syntax) mj["transfer_syntax"] = printable(bytes_of(m.transfer_syntax_uid));
    if (m.has_sop_class) mj["media_storage_sop_class"] = printable(bytes_of(m.sop_class));
    if (!m.has_sop_class)
      meta_problem("sop-class-missing", "(0002,0002) Media Storage SOP Class UID is missing");
    else if (m.sop_class.empty())
      meta_problem("sop-class-empty", "(0002,0002) Media Storage SOP Class UID is empty (it is Type 1)");
    if (!m.has_sop_instance)
      meta_problem("sop-instance-missing", "(0002,0003) Media Storage SOP Instance UID is missing");
    else if (m.sop_instance.empty())
      meta_problem("sop-instance-empty", "(0002,0003) Media Storage SOP Instance UID is empty (it is Type 1)");
    r_.fields["meta"] = std::move(mj);
    report_hits(meta, false);

    const std::uint64_t ds_start = m.dataset_start;
    auto ds = f_.subspan(ds_start);
    const Encoding declared = part10::declared_encoding(m, ds);

    if (ts_usable && ts.deflated) {
      if (r_.preamble.kind == PreambleKind::nonzero && r_.preamble.shell_runs) nonzero_preamble(&meta);
      deflated(ds, ds_start, m);
      r_.fields["encoding"] = std::string(ts.name);
      if (r_.preamble.exec) preamble_exec(meta, true);
      pdf_in_reach(std::vector<Document>{});
      return;
    }

    // The checks see what readers see: when the bytes are not encoded as declared, the walk of another encoding
    // (with a collector of its own) may be taken instead. A candidate not taken is dropped when the next is tried.
    const Collector::Setup cs = setup(ds, ds_start, true);
    std::vector<std::unique_ptr<Collector>> walked;  // by attempt
    auto collector_for = [&](std::size_t attempt, Encoding e) -> Visitor& {
      if (attempt >= 2) walked[attempt - 1].reset();
      Collector::Setup s = cs;
      s.big_endian = e.big_endian;
      walked.push_back(std::make_unique<Collector>(s));
      return *walked.back();
    };
    part10::DatasetWalk dw = part10::walk_dataset(ds, ds_start, declared, collector_for);
    if (dw.fallback)
      meta_problem("transfer-syntax-mismatch",
                   fmt::format("the dataset is encoded {}, but (0002,0010) names {}",
                               part10::encoding_name(dw.encoding),
                               ts_usable ? std::string(ts.name) : part10::encoding_name(declared)));
    const Encoding enc = dw.encoding;
    WalkResult& w = dw.walk;
    Collector& used = *walked[dw.attempt];
    dataset_done(w, used, &m, ds_start);
    pixel_shape(used, ts_usable, ts, w.fatal);
    if (r_.preamble.kind == PreambleKind::nonzero && r_.preamble.shell_runs) nonzero_preamble(&used);
    if (r_.preamble.exec) preamble_exec(used, false, &meta);
    pdf_in_reach(used);
    r_.parseable = !w.fatal || trailing_stop_;
    r_.fields["elements"] = w.elements;
    if (ts_usable && enc.explicit_vr == ts.explicit_vr)
      r_.fields["encoding"] = std::string(ts.name);
    else
      r_.fields["encoding"] = part10::encoding_name(enc) + " (guessed)";
  }

  // A deflated dataset is inflated through a bounded window and walked as it arrives (part10::DeflatedDataset).
  void deflated(std::span<const std::uint8_t> ds, std::uint64_t ds_start, const part10::FileMeta& meta) {
    lease_.acquire();
    part10::DeflatedDataset d(ds, opt_.max_inflated,
                              std::min<std::size_t>(opt_.stream_window, util::MemoryLease::kBytes / 4));
    Collector c(setup({}, 0, false));
    WalkResult w = d.walk(c);
    // Where the walk ran out of data because the inflation stopped at its cap, the cap is the finding (below), not
    // the element it cut.
    const bool cut_by_cap = d.cut_by_cap(w);
    for (std::size_t i = 0; i < w.issues.size(); ++i)
      if (!(cut_by_cap && i + 1 == w.issues.size())) structure(w.issues[i], true);
    if (structure_count_ > opt_.max_structure_findings)
      r_.fields["structure_problems_not_listed"] = structure_count_ - opt_.max_structure_findings;
    meta_match(meta, c);
    report_hits(c, true);
    if (w.fatal) unparsed_stream(d.window(), w.end);
    d.drain();  // to the end of the stream (or the cap): how it ends is checked below
    documents(c);
    r_.fields["bytes_scanned"] = c.scanned;
    r_.fields["scan_complete"] = c.scan_complete && !w.fatal;
    r_.fields["elements"] = w.elements;

    r_.fields["deflated"] = json{{"compressed", d.consumed()}, {"inflated", d.inflated()}};
    if (d.stream().limit())
      add("file.structure.invalid",
          json{{"problem", "deflate-limit"}, {"offset", ds_start}, {"limit", opt_.max_inflated}},
          fmt::format("Deflated dataset inflates past {} bytes (possible decompression bomb)", opt_.max_inflated));
    if (d.corrupt())
      add("file.structure.invalid", json{{"problem", "deflate-corrupt"}, {"offset", ds_start}},
          "Deflated dataset is not a valid deflate stream");
    switch (d.after()) {
      case part10::DeflatedDataset::After::gzip_trailer: r_.fields["deflated"]["gzip_trailer"] = true; break;
      case part10::DeflatedDataset::After::data: trailing(ds_start + d.consumed(), "after the deflate stream"); break;
      case part10::DeflatedDataset::After::nothing: break;
    }
    r_.parseable = !w.fatal && d.complete();
  }

  // Applies the structure, trailing-data, payload and document checks to a finished walk of bytes held whole.
  void dataset_done(WalkResult& w, Collector& c, const part10::FileMeta* meta, std::uint64_t ds_start) {
    // A fatal stop at a top-level element boundary after the pixel data (or on bytes that cannot be an
    // element) means the dataset ended and something else follows it.
    const bool trailing_stop = part10::ends_at_trailing_data(w);
    for (std::size_t i = 0; i < w.issues.size(); ++i) {
      if (trailing_stop && i + 1 == w.issues.size()) break;
      structure(w.issues[i], false);
    }
    if (structure_count_ > opt_.max_structure_findings)
      r_.fields["structure_problems_not_listed"] = structure_count_ - opt_.max_structure_findings;
    trailing_stop_ = trailing_stop;
    if (meta) meta_match(*meta, c);  // meta UIDs must match the dataset's
    report_hits(c, false);
    if (trailing_stop)
      trailing(w.issues.back().offset, fmt::format("after {}", tag_string(w.last_top_tag)));
    else if (w.fatal)
      unparsed(ds_start + w.end, "after a fatal structure problem");  // the walk could not go on: search raw
    r_.fields["bytes_scanned"] = c.scanned;
    r_.fields["scan_complete"] = c.scan_complete && (!w.fatal || trailing_stop);
    documents(c);
    directory_offsets(c, w.fatal);
  }

  // PS3.5 A.4: encapsulated Pixel Data has undefined length and fragments, native Pixel Data a defined length;
  // the Basic Offset Table points at fragments; native Pixel Data holds what Rows, Columns, Samples per Pixel,
  // Bits Allocated and Number of Frames say (a reader that trusts those overruns a shorter value).
  void pixel_shape(const Collector& c, bool ts_usable, const TransferSyntax& ts, bool walk_stopped) {
    if (!ts_usable) return;
    if (c.pixel_fragments && !ts.encapsulated)
      structure_problem("pixel-data-encapsulated", kPixelData, c.pixel_offset,
                        fmt::format("undefined-length (encapsulated) Pixel Data under the native transfer syntax {}",
                                    ts.name));
    if (c.pixel_defined && ts.encapsulated && !ts.deflated)
      structure_problem("pixel-data-not-encapsulated", kPixelData, c.pixel_offset,
                        fmt::format("defined-length (native) Pixel Data under the encapsulated transfer syntax {}",
                                    ts.name));
    if (c.pixel_fragments && !walk_stopped) {
      std::vector<std::uint64_t> starts = c.fragment_starts;
      std::sort(starts.begin(), starts.end());
      std::uint64_t previous = 0;
      for (std::size_t i = 0; i < c.offset_table.size(); ++i) {
        const std::uint32_t o = c.offset_table[i];
        const bool known = std::binary_search(starts.begin(), starts.end(), o);
        if (!known || (i > 0 && o <= previous)) {
          structure_problem("offset-table", kItem, c.offset_table_at,
                            fmt::format("Basic Offset Table entry {} ({}) does not point at a later fragment ({} fragments)",
                                        i, o, starts.size()));
          break;
        }
        previous = o;
      }
    }
    if (c.pixel_defined && (!ts.encapsulated || ts.deflated) && c.have_rows && c.have_columns && c.have_bits) {
      const std::string& pi = c.photometric;
      // 4:2:2 YBR keeps two samples per pixel; 1-bit data is packed.
      const std::uint64_t samples = (pi == "YBR_FULL_422" || pi == "YBR_PARTIAL_422") ? 2 : std::max<std::uint32_t>(c.samples, 1);
      const std::uint64_t bits = std::uint64_t{c.rows} * c.columns * samples * std::max<std::uint32_t>(c.frames, 1) *
                                 c.bits_allocated;
      const std::uint64_t need = (bits + 7) / 8;
      if (c.pixel_length + 1 < need)  // one byte less is the padding of an odd length
        structure_problem("pixel-data-short", kPixelData, c.pixel_offset,
                          fmt::format("Pixel Data holds {} bytes; {} rows x {} columns x {} samples x {} frames x {} bits "
                                      "need {}",
                                      c.pixel_length, c.rows, c.columns, samples, c.frames, c.bits_allocated, need));
    }
  }

  // PS3.3 F.3.2.2: a DICOMDIR's record offsets (from the first byte of the file) name directory records, and
  // following them from any record never comes back to it (a reader that follows a loop never ends). After a
  // fatal stop the records past it were not seen: then only offsets past the end of the file are reported.
  void directory_offsets(const Collector& c, bool walk_stopped) {
    if (c.dir_offsets.empty()) return;
    std::vector<std::uint64_t> items = c.record_items;
    std::sort(items.begin(), items.end());
    bool bad = false;
    for (const auto& d : c.dir_offsets) {
      if (d.value == 0) continue;  // no such record
      if (d.value >= f_.size()) {
        structure_problem("dicomdir-offset", d.tag, d.element_offset,
                          fmt::format("record offset {} points past the end of the file ({} bytes)", d.value, f_.size()));
        bad = true;
      } else if (!walk_stopped && !std::binary_search(items.begin(), items.end(), d.value)) {
        structure_problem("dicomdir-offset", d.tag, d.element_offset,
                          fmt::format("record offset {} does not point at a directory record", d.value));
        bad = true;
      }
    }
    if (bad || walk_stopped) return;
    // Records and their links (next record, lower-level entity): a loop is a record reachable from itself.
    std::vector<std::vector<std::pair<std::uint64_t, const Collector::DirOffset*>>> links(items.size());
    auto index = [&](std::uint64_t off) {
      return static_cast<std::size_t>(std::lower_bound(items.begin(), items.end(), off) - items.begin());
    };
    for (const auto& d : c.dir_offsets)
      if (d.value && d.record && (d.tag == tag(0x0004, 0x1400) || d.tag == tag(0x0004, 0x1420)))
        links[index(d.record)].emplace_back(index(d.value), &d);
    std::vector<std::uint8_t> state(items.size(), 0);  // 0 new, 1 on the current path, 2 done
    std::vector<std::pair<std::size_t, std::size_t>> stack;
    for (std::size_t root = 0; root < items.size(); ++root) {
      if (state[root]) continue;
      stack.push_back({root, 0});
      state[root] = 1;
      while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next == links[node].size()) {
          state[node] = 2;
          stack.pop_back();
          continue;
        }
        const auto [to, d] = links[node][next++];
        if (state[to] == 1) {
          structure_problem("dicomdir-loop", d->tag, d->element_offset,
                            fmt::format("record offset {} leads back to a record already on the way to it", d->value));
          return;
        }
        if (state[to] == 0) {
          state[to] = 1;
          stack.push_back({to, 0});
        }
      }
    }
  }

  void meta_match(const part10::FileMeta& meta, const Collector& c) {
    if (meta.has_sop_class && c.have_sop_class && meta.sop_class != c.sop_class)
      meta_problem("sop-class-mismatch", "(0002,0002) Media Storage SOP Class UID differs from (0008,0016)");
    if (meta.has_sop_instance && c.have_sop_instance && meta.sop_instance != c.sop_instance)
      meta_problem("sop-instance-mismatch", "(0002,0003) Media Storage SOP Instance UID differs from (0008,0018)");
  }

  void trailing(std::uint64_t at, std::string where) {
    const std::uint64_t len = f_.size() - at;
    add("file.trailing-data", json{{"offset", at}, {"length", len}, {"where", where}},
        fmt::format("{} bytes follow the end of the dataset ({})", len, where));
    raw_search(at, "after the dataset", "after the end of the dataset");
  }

  // Bytes the walk could not read as elements: a program there is still a program, and a file whose structure
  // cannot be trusted and that holds one is dangerous, not merely malformed.
  void unparsed(std::uint64_t at, const char* why) {
    if (at >= f_.size()) return;
    raw_search(at, "unparsed bytes", fmt::format("in the bytes {}", why));
  }

  void raw_search(std::uint64_t at, const char* location, std::string where) {
    auto rest = f_.subspan(at);
    SearchOptions so;
    so.max_hits = kMaxHits;
    if (rest.size() > opt_.full_scan_budget) {
      so.extent = rest.subspan(opt_.full_scan_budget);
      rest = rest.first(opt_.full_scan_budget);
    }
    for (auto& h : find_executables(rest, so)) raw_hit(h, at + h.offset, location, where, false);
  }

  void raw_hit(const ExecHit& h, std::uint64_t off, const char* location, const std::string& where, bool inflated) {
    if (!inflated && !reported_.insert(off).second) return;
    json ev{{"format", exec_kind_name(h.match.kind)}, {"detail", h.match.detail}, {"offset", off}, {"location", location}};
    if (inflated) ev["offset_in"] = "inflated dataset";
    if (is_archive(h.match.kind)) {
      add("file.payload.archive", std::move(ev), fmt::format("{} {}", h.match.detail, where));
      return;
    }
    r_.has_payload = true;
    add("file.payload.executable", std::move(ev),
        fmt::format("{} executable {} (offset {})", exec_kind_name(h.match.kind), where, off));
  }

  // The rest of an inflated stream after a fatal stop, searched through its window.
  void unparsed_stream(StreamWindow& win, std::uint64_t from) {
    constexpr std::size_t kOverlap = 64u << 10;
    const std::size_t chunk = win.window();
    std::uint64_t pos = std::max(from, win.begin()), searched = 0;  // the window may have moved past the stop
    std::size_t found = 0;
    while (searched < opt_.full_scan_budget && found < kMaxHits) {
      const std::size_t n = win.avail(pos, chunk);
      if (n == 0) break;
      const bool last = n < chunk;
      const std::size_t len = last ? n : n - std::min(kOverlap, n / 2);
      const std::span<const std::uint8_t> s(win.data(pos), n);
      SearchOptions so;
      so.max_hits = kMaxHits - found;
      so.extent = s.subspan(len);
      for (auto& h : find_executables(s.first(len), so)) {
        raw_hit(h, pos + h.offset, "unparsed bytes", "in the inflated bytes after a fatal structure problem", true);
        ++found;
      }
      if (last) break;
      pos += len;
      searched += len;
    }
  }

  void report_hits(const Collector& c, bool inflated) {
    for (const Hit& h : c.hits) {
      if (!inflated && !reported_.insert(h.offset).second) continue;
      const Element& e = h.e;
      const Tag t = e.fragment ? e.parent : e.tag;
      const char* where = h.split_with      ? "split across elements"
                          : e.fragment      ? "pixel data fragment"
                          : e.tag == kEncapsulatedDocument ? "encapsulated document"
                          : group(e.tag) == 0x0002 ? "File Meta element"
                                                   : "element value";
      json ev{{"format", exec_kind_name(h.hit.match.kind)}, {"detail", h.hit.match.detail}, {"tag", tag_json(t)},
              {"element_offset", e.offset}, {"offset", h.offset}, {"location", where}};
      if (h.split_with) ev["continues_in"] = tag_json(h.split_with);
      char vrn[3];
      vr_name(e.vr, vrn);
      ev["vr"] = vrn;
      if (inflated) ev["offset_in"] = "inflated dataset";
      const std::string place = h.split_with ? fmt::format("{} and {}", tag_string(t), tag_string(h.split_with))
                                             : tag_string(t);
      if (is_archive(h.hit.match.kind)) {
        add("file.payload.archive", std::move(ev), fmt::format("{} inside {} {}", h.hit.match.detail, where, place));
        continue;
      }
      r_.has_payload = true;
      add("file.payload.executable", std::move(ev),
          fmt::format("{} executable inside {} {} (offset {})", exec_kind_name(h.hit.match.kind), where, place,
                      h.offset));
    }
  }

  // `c` is the dataset's collector; `meta` (if any) the File Meta group's, whose elements pointers may reach too.
  void preamble_exec(const Collector& c, bool inflated, const Collector* meta = nullptr) {
    const ExecMatch& m = *r_.preamble.exec;
    auto resolve = [&](std::uint64_t p) -> const Element* {
      for (const Collector* col : {meta, &c})
        if (col)
          for (const auto& [q, e] : col->resolved)
            if (q == p) return &e;
      return nullptr;
    };
    json points = json::array();
    bool body_in_element = false;
    for (std::uint64_t p : m.points) {
      json pj{{"offset", p}};
      if (p < kPreamble) {
        pj["location"] = "preamble";
      } else if (p >= f_.size()) {
        pj["location"] = "past the end of the file";
      } else if (const Element* e = resolve(p)) {
        pj["tag"] = tag_string(e->fragment ? e->parent : e->tag);
        char vrn[3];
        vr_name(e->vr, vrn);
        pj["vr"] = vrn;
        pj["element_offset"] = e->offset;
        pj["location"] = group(e->tag) == 0x0002 ? "File Meta element value" : "element value";
        body_in_element = true;
      } else {
        pj["location"] = inflated && p >= part10::kMetaOffset ? "deflated dataset" : "dataset";
      }
      points.push_back(std::move(pj));
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
                   {"offset", pj["offset"]}, {"location", pj["location"]}},
              fmt::format("{} program body inside element {} (referenced by the preamble)", exec_kind_name(m.kind),
                          pj["tag"].get<std::string>()));
          break;
        }
    }
  }

  // "%PDF-" after the preamble but within a PDF reader's reach of the start, and not the start of an
  // Encapsulated Document (which is what Encapsulated PDF objects are), makes the file open as a PDF too.
  void pdf_in_reach(const std::vector<Document>& docs) {
    if (r_.preamble.document) return;  // already reported from the preamble
    const std::size_t n = std::min<std::size_t>(f_.size(), kPdfHeaderReach);
    const std::string_view head(reinterpret_cast<const char*>(f_.data()), n);
    for (std::size_t at = head.find("%PDF-"); at != std::string_view::npos; at = head.find("%PDF-", at + 1)) {
      const bool in_document = std::any_of(docs.begin(), docs.end(), [&](const Document& d) {
        return at >= d.value_offset && at - d.value_offset < std::min<std::uint64_t>(d.size, kPdfHeaderReach);
      });
      if (in_document) continue;
      polyglot_document(DocumentKind::pdf, at, at < kPreamble ? "preamble" : "the first 1024 bytes");
      return;
    }
  }
  void pdf_in_reach(const Collector& c) { pdf_in_reach(c.documents); }

  void documents(const Collector& c) {
    if (c.documents.empty()) return;
    json list = json::array();
    for (const Document& d : c.documents) {
      const ActiveContent& ac = d.ac;
      json dj{{"content_type", ac.content_type}, {"size", d.size}};
      if (c.have_mime) dj["mime_declared"] = c.mime;
      if (ac.relative_stylesheets) dj["relative_stylesheets"] = ac.relative_stylesheets;
      list.push_back(dj);
      if (ac.active()) {
        json ev{{"content_type", ac.content_type}, {"counts", marker_counts(ac)}, {"streams_inflated", ac.streams_inflated},
                {"limits_hit", ac.limits_hit}, {"tag", "(0042,0011)"}, {"element_offset", d.value_offset}};
        if (c.documents.size() > 1) ev["copies"] = c.documents.size();
        add("file.encapsulated.active", std::move(ev),
            fmt::format("Encapsulated {} has active content: {}", ac.content_type, marker_names(ac)));
      }
      if (!ac.active() && ac.limits_hit)
        add("file.encapsulated.unscanned",
            json{{"content_type", ac.content_type}, {"streams_decoded", ac.streams_inflated}, {"size", d.size},
                 {"tag", "(0042,0011)"}, {"element_offset", d.value_offset}},
            fmt::format("Encapsulated {} could not be checked completely (a stream too large, corrupt or in a format "
                        "not decoded)",
                        ac.content_type));
      if (c.have_mime && !mime_matches(c.mime, d.head, d.size))
        add("file.encapsulated.active",
            json{{"problem", "mime-mismatch"}, {"mime_declared", c.mime}, {"content_type", ac.content_type},
                 {"tag", "(0042,0012)"}},
            fmt::format("Declared MIME type {} does not match the document's content ({})", c.mime, ac.content_type));
    }
    r_.fields["encapsulated_document"] = list.size() == 1 ? list[0] : list;
  }

  // A ZIP end-of-central-directory record at the very end: every ZIP reader opens the file as an archive.
  void zip_directory() {
    if (r_.verdict == Verdict::not_dicom) return;
    for (const Finding& f : r_.findings)
      if (f.check == "file.payload.archive") return;  // already found by its local header
    if (auto at = find_zip_eocd(f_))
      add("file.payload.archive",
          json{{"format", "ZIP"}, {"detail", "ZIP end-of-central-directory record at the end of the file"},
               {"offset", *at}, {"location", "end of the file"}},
          fmt::format("ZIP readers open this file as an archive (end-of-central-directory record at offset {})", *at));
  }

  void raw_dataset() {
    // Not Part 10: a raw dataset (no preamble, no meta) is still DICOM if it walks cleanly.
    r_.fields["preamble"] = json{{"kind", "absent"}};
    std::optional<Collector> c;
    auto raw = part10::walk_raw_dataset(f_, [&](std::size_t, Encoding enc) -> Visitor& {
      Collector::Setup cs = setup(f_, 0, true);
      cs.big_endian = enc.big_endian;
      return c.emplace(cs);
    });
    if (raw) {
      WalkResult& w = raw->walk;
      const Encoding enc = raw->encoding;
      r_.fields["raw_dataset"] = enc.explicit_vr ? (enc.big_endian ? "explicit big endian" : "explicit little endian")
                                                 : "implicit little endian";
      meta_problem("no-meta", "no preamble and File Meta group: a raw dataset, not a DICOM Part 10 file");
      dataset_done(w, *c, nullptr, 0);
      r_.fields["elements"] = w.elements;
      r_.parseable = !w.fatal || trailing_stop_;
      return;
    }
    r_.verdict = Verdict::not_dicom;
    json ev{{"size", f_.size()}};
    std::string title = "No DICM marker at offset 128 and not a DICOM dataset";
    // A program among the images: said, and dangerous when it is named like a DICOM file.
    if (auto m = classify_at(f_, false); m && m->kind != ExecKind::html) {
      ev["format"] = exec_kind_name(m->kind);
      ev["detail"] = m->detail;
      title = fmt::format("Not a DICOM file: a {} ({})", exec_kind_name(m->kind), m->detail);
      if (named_like_dicom(target_)) {
        add(is_archive(m->kind) ? "file.payload.archive" : "file.payload.executable",
            json{{"format", exec_kind_name(m->kind)}, {"detail", m->detail}, {"offset", 0}, {"location", "start of the file"},
                 {"named_like_dicom", true}},
            fmt::format("A {} named like a DICOM file ({})", exec_kind_name(m->kind), m->detail));
        r_.has_payload = !is_archive(m->kind);
        r_.verdict = Verdict::dangerous;
      }
    }
    add("file.not-dicom", std::move(ev), std::move(title));
  }

  static bool named_like_dicom(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    std::string name = path.substr(slash == std::string::npos ? 0 : slash + 1);
    for (char& ch : name) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    for (const char* ext : {".dcm", ".dicom", ".dic", ".dc3", ".ima"})
      if (name.size() > std::strlen(ext) && name.ends_with(ext)) return true;
    return false;
  }

  void finish() {
    if (r_.verdict == Verdict::not_dicom || r_.verdict == Verdict::dangerous) return;
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
  // What loaders run, then what readers open, then text a shell runs (a PDF header is text too).
  if (auto m = classify_at(file, false)) {
    p.kind = is_archive(m->kind) ? PreambleKind::archive : PreambleKind::executable;
    p.exec = std::move(m);
    return p;
  }
  if (auto d = classify_document_preamble(pre)) {
    p.kind = PreambleKind::document;
    p.document = d;
    return p;
  }
  if (auto m = classify_shell_text(file)) {
    p.kind = PreambleKind::executable;
    p.exec = std::move(m);
    return p;
  }
  p.shell_runs = bash_runs_as_script(pre);
  p.kind = p.nonzero_bytes <= kSparseMaxNonzero && !p.shell_runs ? PreambleKind::sparse : PreambleKind::nonzero;
  return p;
}

namespace {
FileReport analyze_impl(std::span<const std::uint8_t> file, const std::string& target, const AnalyzeOptions& opt,
                        const MappedFile* mf, util::MemoryLease& lease) {
  return Analysis(file, target, opt, mf, lease).run();
}
}  // namespace

FileReport analyze_bytes(std::span<const std::uint8_t> file, const std::string& target, const AnalyzeOptions& opt) {
  util::MemoryLease lease;
  return analyze_impl(file, target, opt, nullptr, lease);
}

FileReport analyze_file(const std::string& path, const AnalyzeOptions& opt) {
  MappedFile mf;
  if (std::string err = mf.open(path); !err.empty()) {
    FileReport r;
    r.verdict = Verdict::error;
    r.error = err;
    return r;
  }
  util::MemoryLease lease;
  if (!mf.mapped()) return analyze_impl(mf.bytes(), path, opt, &mf, lease);
  // A mapped file truncated by another process while we read it raises SIGBUS: turn that into an error verdict.
  struct Job {
    const MappedFile& mf;
    const std::string& path;
    const AnalyzeOptions& opt;
    util::MemoryLease& lease;
    FileReport result;
  };
  auto* job = new Job{mf, path, opt, lease, {}};
  const bool ok = run_guarded_against_sigbus(
      [](void* p) {
        auto* j = static_cast<Job*>(p);
        j->result = analyze_impl(j->mf.bytes(), j->path, j->opt, &j->mf, j->lease);
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
  Record rec{"file", verdict_name(r.verdict), std::move(r.fields), std::move(r.findings), {}, {}};
  rec.fields["path"] = path;
  rec.fields["verdict"] = verdict_name(r.verdict);
  if (!r.error.empty()) rec.fields["error"] = r.error;
  return rec;
}

}  // namespace dg::files
