#include "files/active_content.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <vector>

namespace dg::files {
namespace {

using Bytes = std::span<const std::uint8_t>;
constexpr std::size_t npos = std::string_view::npos;

std::string_view as_view(Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

bool starts_at(std::string_view s, std::size_t i, std::string_view what) {
  return i <= s.size() && s.size() - i >= what.size() && s.compare(i, what.size(), what) == 0;
}

constexpr bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---------------------------------------------------------------------------------------------------------------
// Sniffing

std::size_t skip_ascii_space(std::string_view s, std::size_t i) {
  while (i < s.size() && is_ascii_space(s[i])) ++i;
  return i;
}

// s begins (after whitespace) like an XML document: "<?", "<!" or a start tag.
bool looks_like_xml_start(std::string_view s) {
  std::size_t i = skip_ascii_space(s, 0);
  if (i + 1 >= s.size() || s[i] != '<') return false;
  const char c = s[i + 1];
  return c == '?' || c == '!' || is_alpha(c) || c == '_' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

enum class Encoding { utf8, utf16le, utf16be };

struct TextStart {
  Encoding enc = Encoding::utf8;
  std::size_t offset = 0;  // first byte after the BOM
};

TextStart detect_encoding(Bytes b) {
  const std::size_t n = b.size();
  if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) return {Encoding::utf8, 3};
  if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE) return {Encoding::utf16le, 2};
  if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF) return {Encoding::utf16be, 2};
  // BOM-less UTF-16: '<' followed by an ASCII character, each in a 16-bit unit.
  if (n >= 4 && b[0] == '<' && b[1] == 0 && b[2] != 0 && b[3] == 0) return {Encoding::utf16le, 0};
  if (n >= 4 && b[0] == 0 && b[1] == '<' && b[2] == 0 && b[3] != 0) return {Encoding::utf16be, 0};
  return {};
}

// Narrows UTF-16 code units to single bytes: ASCII stays, everything else becomes 0x80 (never markup).
// Writes min(units available, max_units) characters to `out` and returns that number.
std::size_t narrow_utf16(Bytes b, TextStart ts, char* out, std::size_t max_units) {
  const std::size_t units = std::min((b.size() - ts.offset) / 2, max_units);
  const std::uint8_t* p = b.data() + ts.offset;
  const bool le = ts.enc == Encoding::utf16le;
  for (std::size_t u = 0; u < units; ++u) {
    const unsigned v = le ? (p[2 * u] | (p[2 * u + 1] << 8)) : ((p[2 * u] << 8) | p[2 * u + 1]);
    out[u] = v < 0x80 ? static_cast<char>(v) : static_cast<char>(0x80);
  }
  return units;
}

bool sniff_xml(Bytes b) {
  const TextStart ts = detect_encoding(b);
  if (ts.enc == Encoding::utf8) return looks_like_xml_start(as_view(b.subspan(ts.offset)));
  // Only the first few hundred units matter; keep them on the stack.
  std::array<char, 256> buf{};
  const std::size_t units = narrow_utf16(b, ts, buf.data(), buf.size());
  return looks_like_xml_start(std::string_view(buf.data(), units));
}

bool sniff_pdf(Bytes b) {
  // Readers accept the header anywhere in the first 1024 bytes.
  const std::string_view head = as_view(b.first(std::min<std::size_t>(b.size(), 1024)));
  return head.find("%PDF-") != npos;
}

bool stl_ascii(Bytes b) {
  const std::string_view s = as_view(b.first(std::min<std::size_t>(b.size(), 1024)));
  const std::size_t i = skip_ascii_space(s, 0);
  if (!istarts_with(s.substr(i), "solid")) return false;
  return i + 5 == s.size() || is_ascii_space(s[i + 5]);
}

bool stl_binary_exact(Bytes b) {
  if (b.size() < 84) return false;
  const std::uint64_t tri = static_cast<std::uint64_t>(b[80]) | (static_cast<std::uint64_t>(b[81]) << 8) |
                            (static_cast<std::uint64_t>(b[82]) << 16) | (static_cast<std::uint64_t>(b[83]) << 24);
  return 84 + 50 * tri == b.size();
}

bool stl_binary_size(Bytes b) { return b.size() >= 84 && (b.size() - 84) % 50 == 0; }

enum class Wavefront { none, obj, mtl };

Wavefront classify_wavefront(Bytes b) {
  const std::string_view s = as_view(b.first(std::min<std::size_t>(b.size(), 64u << 10)));
  if (s.find('\0') != npos) return Wavefront::none;
  static constexpr std::string_view obj_kw[] = {
      "v",     "vt",   "vn",    "vp",  "f",    "l",   "p",      "o",        "g",          "s",
      "mtllib", "usemtl", "cstype", "deg", "bmat", "step", "curv", "curv2", "surf",       "parm",
      "trim",  "hole", "scrv",  "sp",  "end",  "con", "mg",     "bevel",    "c_interp",   "d_interp",
      "lod",   "shadow_obj", "trace_obj", "ctech", "stech", "call", "csh", "maplib", "usemap"};
  static constexpr std::string_view mtl_kw[] = {
      "newmtl", "Ka", "Kd", "Ks", "Ke", "Ns", "Ni", "d",  "Tr",     "Tf",    "illum", "bump", "disp",
      "decal",  "refl", "sharpness", "Pr", "Pm", "Ps", "Pc", "Pcr", "aniso", "anisor", "norm", "Km"};
  std::size_t obj = 0, mtl = 0, other = 0, lines = 0;
  bool strong_obj = false, newmtl = false;
  std::size_t i = 0;
  while (i < s.size() && lines < 200) {
    std::size_t eol = s.find('\n', i);
    if (eol == npos) eol = s.size();
    std::string_view line = s.substr(i, eol - i);
    i = eol + 1;
    std::size_t a = 0;
    while (a < line.size() && (line[a] == ' ' || line[a] == '\t' || line[a] == '\r')) ++a;
    if (a == line.size() || line[a] == '#') continue;
    std::size_t e = a;
    while (e < line.size() && !is_ascii_space(line[e])) ++e;
    const std::string_view kw = line.substr(a, e - a);
    ++lines;
    if (kw.empty()) {
      ++other;
    } else if (std::find(std::begin(obj_kw), std::end(obj_kw), kw) != std::end(obj_kw)) {
      ++obj;
      if (kw == "v" || kw == "vt" || kw == "vn" || kw == "vp" || kw == "f" || kw == "mtllib" || kw == "usemtl")
        strong_obj = true;
    } else if (std::find(std::begin(mtl_kw), std::end(mtl_kw), kw) != std::end(mtl_kw) || kw.starts_with("map_")) {
      ++mtl;
      if (kw == "newmtl") newmtl = true;
    } else {
      ++other;
    }
  }
  const std::size_t total = obj + mtl + other;
  if (total == 0 || other * 10 > total) return Wavefront::none;
  if (strong_obj && mtl == 0) return Wavefront::obj;
  if (newmtl && obj == 0) return Wavefront::mtl;
  return Wavefront::none;
}

// ---------------------------------------------------------------------------------------------------------------
// PDF

constexpr std::array<std::string_view, 10> kPdfMarkers = {"/JavaScript", "/JS",     "/OpenAction", "/AA",
                                                          "/Launch",     "/EmbeddedFile", "/RichMedia", "/XFA",
                                                          "/SubmitForm", "/URI"};
enum PdfFlag { kFlagFilter, kFlagFlate, kFlagImage, kFlagObjStm, kNumFlags };

struct PdfName {
  std::string_view name;  // without '/'
  int marker;             // index into kPdfMarkers or -1
  int flag;               // PdfFlag or -1
};
constexpr std::array<PdfName, 15> kPdfNames = {{{"JavaScript", 0, -1},
                                                {"JS", 1, -1},
                                                {"OpenAction", 2, -1},
                                                {"AA", 3, -1},
                                                {"Launch", 4, -1},
                                                {"EmbeddedFile", 5, -1},
                                                {"RichMedia", 6, -1},
                                                {"XFA", 7, -1},
                                                {"SubmitForm", 8, -1},
                                                {"URI", 9, -1},
                                                {"Filter", -1, kFlagFilter},
                                                {"FlateDecode", -1, kFlagFlate},
                                                {"Fl", -1, kFlagFlate},
                                                {"Image", -1, kFlagImage},
                                                {"ObjStm", -1, kFlagObjStm}}};
constexpr std::size_t kMaxInterestingName = 12;  // "EmbeddedFile"

constexpr std::array<bool, 256> make_pdf_regular() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = true;
  for (unsigned char c : std::string_view("\0\t\n\f\r ()<>[]{}/%", 16)) t[c] = false;
  return t;
}
constexpr std::array<bool, 256> kPdfRegular = make_pdf_regular();
constexpr bool is_pdf_space(char c) {
  return c == '\0' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

using PdfCounts = std::array<std::uint64_t, kPdfMarkers.size()>;
using FlagPositions = std::array<std::size_t, kNumFlags>;  // last position of each flag name, npos when none

// Counts marker names in s[begin, end). When `flags` is given, records where the flag names were last seen.
void scan_pdf_names(std::string_view s, std::size_t begin, std::size_t end, PdfCounts& counts,
                    FlagPositions* flags) {
  std::size_t p = begin;
  while (p < end) {
    const void* hit = std::memchr(s.data() + p, '/', end - p);
    if (hit == nullptr) break;
    const std::size_t slash = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
    std::size_t i = slash + 1;
    char buf[kMaxInterestingName];
    std::size_t len = 0;
    bool too_long = false;
    while (i < end && kPdfRegular[static_cast<unsigned char>(s[i])]) {
      char c = s[i];
      int hi = 0, lo = 0;
      if (c == '#' && i + 2 < end && (hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0) {
        c = static_cast<char>(hi * 16 + lo);
        i += 3;
      } else {
        ++i;
      }
      if (len < kMaxInterestingName)
        buf[len++] = c;
      else
        too_long = true;
    }
    if (!too_long && len > 0) {
      const std::string_view name(buf, len);
      for (const PdfName& n : kPdfNames) {
        if (n.name != name) continue;
        if (n.marker >= 0) ++counts[static_cast<std::size_t>(n.marker)];
        if (n.flag >= 0 && flags != nullptr) (*flags)[static_cast<std::size_t>(n.flag)] = slash;
        break;
      }
    }
    p = i;  // the name's end: the delimiter (maybe the next '/') or `end`
  }
}

bool looks_like_zlib_header(const std::uint8_t* p, std::size_t n) {
  return n >= 2 && (p[0] & 0x0F) == 8 && (p[0] >> 4) <= 7 && ((p[0] << 8) | p[1]) % 31 == 0;
}

enum class InflateStatus { complete, truncated, error };

struct InflateResult {
  InflateStatus status = InflateStatus::error;
  std::size_t produced = 0;  // bytes in `out` (at most the cap)
};

// Inflates in[0, n) into `out`, producing at most `cap` bytes. The zlib wrapper is used when the data starts with
// a valid zlib header, raw deflate otherwise (some writers omit the header). `out` grows as output arrives.
InflateResult inflate_bounded(const std::uint8_t* in, std::size_t n, std::size_t cap, std::vector<std::uint8_t>& out) {
  InflateResult r;
  out.clear();
  z_stream zs{};
  if (inflateInit2(&zs, looks_like_zlib_header(in, n) ? 15 : -15) != Z_OK) return r;
  // One byte more than the cap tells "exactly cap bytes" from "more than cap bytes".
  const std::size_t hard = cap < SIZE_MAX ? cap + 1 : cap;
  constexpr std::size_t kChunkIn = 1u << 30;
  std::size_t fed = 0;
  std::size_t produced = 0;
  for (;;) {
    if (zs.avail_in == 0 && fed < n) {
      const std::size_t take = std::min(n - fed, kChunkIn);
      zs.next_in = const_cast<Bytef*>(in + fed);
      zs.avail_in = static_cast<uInt>(take);
      fed += take;
    }
    if (produced == out.size()) {
      if (out.size() >= hard) {
        r.status = InflateStatus::truncated;
        break;
      }
      const std::size_t grow = std::min(hard - out.size(), std::max<std::size_t>(out.size(), 64u << 10));
      out.resize(out.size() + grow);
    }
    const std::size_t room = std::min<std::size_t>(out.size() - produced, 1u << 30);
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(room);
    const int ret = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (ret == Z_STREAM_END) {
      r.status = InflateStatus::complete;
      break;
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR && zs.avail_out == 0) continue;  // needs more room: grow on the next turn
    if (ret == Z_BUF_ERROR && zs.avail_in == 0 && fed < n) continue;
    r.status = InflateStatus::error;  // data error, dictionary needed, or input ended before the stream did
    break;
  }
  inflateEnd(&zs);
  if (produced > cap) {
    produced = cap;
    r.status = InflateStatus::truncated;
  }
  r.produced = produced;
  return r;
}

class PdfScanner {
 public:
  PdfScanner(std::string_view s, const ActiveContentLimits& lim, PdfCounts& counts, ActiveContent& out)
      : s_(s), lim_(lim), counts_(counts), out_(out) {}

  void run() {
    std::size_t pos = 0;          // raw scanning resumes here
    std::size_t keyword_from = 0;  // "stream" keywords before this lie inside stream data and are ignored
    for (;;) {
      const std::size_t k = next_stream_keyword(std::max(pos, keyword_from));
      const std::size_t region_end = k == npos ? s_.size() : k;
      FlagPositions flags;
      flags.fill(npos);
      scan_pdf_names(s_, pos, region_end, counts_, &flags);
      if (k == npos) break;

      // The stream's dictionary: from the last "obj" keyword before the stream (or where this region began).
      const std::size_t dict_start = last_obj_keyword(pos, k);
      auto has = [&](PdfFlag f) { return flags[f] != npos && flags[f] >= dict_start; };

      const std::size_t body = stream_body_start(k);
      std::size_t body_end = next_endstream(body);
      const std::size_t after = body_end == npos ? s_.size() : body_end + 9;
      if (body_end == npos) body_end = s_.size();
      keyword_from = after;

      if (has(kFlagFlate)) {
        if (!has(kFlagImage) || has(kFlagObjStm)) inflate_stream(body, body_end);
        pos = after;  // compressed data: only its decompressed form carries names
      } else if (has(kFlagFilter)) {
        // A filter we do not decode (DCT, JPX, LZW, ASCII85, indirect ...): opaque data, but an object stream
        // hidden behind it is content we could not scan.
        if (has(kFlagObjStm)) out_.limits_hit = true;
        pos = after;
      } else {
        pos = body;  // unfiltered data is scanned as it is (an uncompressed object stream holds plain objects)
      }
    }
  }

 private:
  // Position of the next "stream" keyword at or after `from`: a whole token followed by an end of line.
  std::size_t next_stream_keyword(std::size_t from) {
    while (from < s_.size()) {
      const std::size_t k = s_.find("stream", from);
      if (k == npos) return npos;
      from = k + 6;
      if (k > 0 && kPdfRegular[static_cast<unsigned char>(s_[k - 1])]) continue;  // "endstream", "xstream"
      std::size_t j = k + 6;
      while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t')) ++j;
      if (j < s_.size() && (s_[j] == '\r' || s_[j] == '\n')) return k;
    }
    return npos;
  }

  std::size_t stream_body_start(std::size_t k) const {
    std::size_t j = k + 6;
    while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t')) ++j;
    if (j < s_.size() && s_[j] == '\r') ++j;
    if (j < s_.size() && s_[j] == '\n') ++j;
    return j;
  }

  // The last "obj" keyword (also the tail of "endobj") in [from, k), or `from`.
  std::size_t last_obj_keyword(std::size_t from, std::size_t k) const {
    std::size_t end = k;
    while (end > from) {
      const std::size_t r = s_.substr(from, end - from).rfind("obj");
      if (r == npos) break;
      const std::size_t o = from + r;
      if (o + 3 == s_.size() || !kPdfRegular[static_cast<unsigned char>(s_[o + 3])]) return o;
      end = o + 2;  // keep looking at earlier positions (end < previous end: terminates)
    }
    return from;
  }

  // The next "endstream" at or after `from`. Results are cached so that repeated misses stay linear.
  std::size_t next_endstream(std::size_t from) {
    if (endstream_cache_valid_ && from >= endstream_cache_from_ &&
        (endstream_cache_ == npos || endstream_cache_ >= from))
      return endstream_cache_;
    endstream_cache_ = s_.find("endstream", from);
    endstream_cache_from_ = from;
    endstream_cache_valid_ = true;
    return endstream_cache_;
  }

  void inflate_stream(std::size_t body, std::size_t body_end) {
    // Whitespace-only data: nothing could hide there.
    std::size_t b = body;
    while (b < body_end && is_pdf_space(s_[b])) ++b;
    if (b == body_end) return;
    if (attempted_ >= lim_.max_streams || inflated_total_ >= lim_.max_inflated_total) {
      out_.limits_hit = true;
      return;
    }
    ++attempted_;
    const std::size_t cap = std::min(lim_.max_inflated_per_stream, lim_.max_inflated_total - inflated_total_);
    const InflateResult r = inflate_bounded(reinterpret_cast<const std::uint8_t*>(s_.data()) + body,
                                            body_end - body, cap, buffer_);
    if (r.status != InflateStatus::complete) out_.limits_hit = true;
    if (r.produced > 0 || r.status == InflateStatus::complete) {
      ++out_.streams_inflated;
      inflated_total_ += r.produced;
      const std::string_view text(reinterpret_cast<const char*>(buffer_.data()), r.produced);
      scan_pdf_names(text, 0, text.size(), counts_, nullptr);
    }
  }

  std::string_view s_;
  const ActiveContentLimits& lim_;
  PdfCounts& counts_;
  ActiveContent& out_;
  std::vector<std::uint8_t> buffer_;  // reused between streams
  std::size_t attempted_ = 0;
  std::size_t inflated_total_ = 0;
  bool endstream_cache_valid_ = false;
  std::size_t endstream_cache_from_ = 0;
  std::size_t endstream_cache_ = npos;
};

// ---------------------------------------------------------------------------------------------------------------
// XML

enum XmlMarker {
  kDoctype,
  kEntity,
  kSystem,
  kPublic,
  kXInclude,
  kStylesheet,
  kScript,
  kJavascript,
  kExternalRef,
  kNumXmlMarkers
};
constexpr std::array<std::string_view, kNumXmlMarkers> kXmlMarkers = {
    "<!DOCTYPE", "<!ENTITY", "SYSTEM", "PUBLIC", "xi:include", "<?xml-stylesheet", "<script", "javascript:",
    "external-reference"};
using XmlCounts = std::array<std::uint64_t, kNumXmlMarkers>;

constexpr bool is_xml_name_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == ':' || c == '-' || c == '.' ||
         static_cast<unsigned char>(c) >= 0x80;
}
constexpr bool is_xml_name_start(char c) {
  return is_alpha(c) || c == '_' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

class XmlScanner {
 public:
  XmlScanner(std::string_view s, XmlCounts& counts) : s_(s), counts_(counts) {}

  void run() {
    xinclude_ns_ = s_.find("http://www.w3.org/2001/XInclude") != npos;
    std::size_t i = 0;
    while (i < s_.size()) {
      const std::size_t lt = s_.find('<', i);
      if (lt == npos) break;
      i = lt;
      if (starts_at(s_, i, "<!--")) {
        i = skip_past(i + 4, "-->");
      } else if (starts_at(s_, i, "<![CDATA[")) {
        i = skip_past(i + 9, "]]>");
      } else if (starts_at(s_, i, "<!DOCTYPE")) {
        ++counts_[kDoctype];
        i = declaration(i + 9);
      } else if (starts_at(s_, i, "<!ENTITY")) {
        ++counts_[kEntity];
        i = declaration(i + 8);
      } else if (starts_at(s_, i, "<!")) {
        i = declaration(i + 2);
      } else if (starts_at(s_, i, "<?")) {
        i = processing_instruction(i + 2);
      } else if (starts_at(s_, i, "</")) {
        const std::size_t gt = s_.find('>', i + 2);
        i = gt == npos ? s_.size() : gt + 1;
      } else if (i + 1 < s_.size() && is_xml_name_start(s_[i + 1])) {
        i = start_tag(i + 1);
      } else {
        ++i;
      }
    }
  }

 private:
  std::size_t skip_past(std::size_t from, std::string_view terminator) const {
    const std::size_t e = s_.find(terminator, from);
    return e == npos ? s_.size() : e + terminator.size();
  }

  // A markup declaration (DOCTYPE with its internal subset, ENTITY, ...) from just after its keyword to just
  // after its closing '>'. Counts keywords outside literals and checks system literals.
  std::size_t declaration(std::size_t j) {
    std::size_t depth = 0;  // inside the internal subset [ ... ]
    while (j < s_.size()) {
      const char c = s_[j];
      if (c == '"' || c == '\'') {
        const std::size_t e = s_.find(c, j + 1);
        const std::size_t end = e == npos ? s_.size() : e;
        check_value(s_.substr(j + 1, end - j - 1));
        j = end == s_.size() ? end : end + 1;
      } else if (depth > 0 && starts_at(s_, j, "<!--")) {
        j = skip_past(j + 4, "-->");
      } else if (depth > 0 && starts_at(s_, j, "<?")) {
        j = skip_past(j + 2, "?>");
      } else if (depth > 0 && starts_at(s_, j, "<!ENTITY")) {
        ++counts_[kEntity];
        j += 8;
      } else if (c == '[') {
        ++depth;
        ++j;
      } else if (c == ']') {
        if (depth > 0) --depth;
        ++j;
      } else if (c == '>' && depth == 0) {
        return j + 1;
      } else if (is_alpha(c)) {
        std::size_t e = j;
        while (e < s_.size() && is_xml_name_char(s_[e])) ++e;
        const std::string_view word = s_.substr(j, e - j);
        if (word == "SYSTEM") ++counts_[kSystem];
        if (word == "PUBLIC") ++counts_[kPublic];
        j = e;
      } else {
        ++j;
      }
    }
    return s_.size();
  }

  std::size_t processing_instruction(std::size_t j) {
    std::size_t e = j;
    while (e < s_.size() && is_xml_name_char(s_[e])) ++e;
    const std::string_view target = s_.substr(j, e - j);
    if (target == "xml-stylesheet") ++counts_[kStylesheet];
    std::size_t end = s_.find("?>", e);
    if (end == npos) end = s_.size();
    attributes(s_.substr(0, end), e);  // pseudo-attributes: href="..."
    return end == s_.size() ? end : end + 2;
  }

  std::size_t start_tag(std::size_t j) {
    std::size_t e = j;
    while (e < s_.size() && is_xml_name_char(s_[e])) ++e;
    const std::string_view name = s_.substr(j, e - j);
    const std::size_t colon = name.rfind(':');
    const std::string_view local = colon == npos ? name : name.substr(colon + 1);
    if (iequals(local, "script")) ++counts_[kScript];
    if (name == "xi:include" || (local == "include" && xinclude_ns_)) ++counts_[kXInclude];
    return attributes(s_, e);
  }

  // Attributes from `k` up to the end of the tag ('>' consumed) in `s`; returns where scanning goes on.
  std::size_t attributes(std::string_view s, std::size_t k) {
    while (k < s.size()) {
      const char c = s[k];
      if (is_ascii_space(c) || c == '/' || c == '?') {
        ++k;
        continue;
      }
      if (c == '>') return k + 1;
      if (c == '<') return k;  // malformed: a new tag begins
      std::size_t e = k;
      while (e < s.size() && !is_ascii_space(s[e]) && s[e] != '=' && s[e] != '>' && s[e] != '<' && s[e] != '/')
        ++e;
      if (e == k) {  // a stray quote or '='
        ++k;
        continue;
      }
      const std::string_view name = s.substr(k, e - k);
      k = e;
      while (k < s.size() && is_ascii_space(s[k])) ++k;
      if (k >= s.size() || s[k] != '=') continue;
      ++k;
      while (k < s.size() && is_ascii_space(s[k])) ++k;
      if (k >= s.size()) break;
      std::string_view value;
      if (s[k] == '"' || s[k] == '\'') {
        const std::size_t q = s.find(s[k], k + 1);
        const std::size_t end = q == npos ? s.size() : q;
        value = s.substr(k + 1, end - k - 1);
        k = end == s.size() ? end : end + 1;
      } else {
        std::size_t v = k;
        while (v < s.size() && !is_ascii_space(s[v]) && s[v] != '>') ++v;
        value = s.substr(k, v - k);
        k = v;
      }
      if (name == "xmlns" || name.starts_with("xmlns:")) continue;  // namespace names are not fetched
      check_value(value);
    }
    return s.size();
  }

  // An attribute value or system literal: character references decoded, tab/CR/LF removed (as URL parsers do),
  // leading spaces and controls dropped.
  void check_value(std::string_view raw) {
    if (raw.empty()) return;
    value_.clear();
    for (std::size_t i = 0; i < raw.size();) {
      const char c = raw[i];
      if (c == '&') {
        const std::size_t semi = raw.find(';', i + 1);
        if (semi != npos && semi - i <= 12) {
          const std::string_view ref = raw.substr(i + 1, semi - i - 1);
          int decoded = -1;
          if (ref.size() >= 2 && ref[0] == '#') {
            unsigned long v = 0;
            const bool hex = ref[1] == 'x' || ref[1] == 'X';
            bool ok = ref.size() > (hex ? 2u : 1u);
            for (std::size_t d = hex ? 2 : 1; ok && d < ref.size(); ++d) {
              const int h = hex ? hex_value(ref[d]) : (is_digit(ref[d]) ? ref[d] - '0' : -1);
              if (h < 0) ok = false;
              v = v * (hex ? 16 : 10) + static_cast<unsigned>(h);
            }
            if (ok) decoded = v < 0x80 ? static_cast<int>(v) : 0x80;
          } else if (ref == "amp") {
            decoded = '&';
          } else if (ref == "lt") {
            decoded = '<';
          } else if (ref == "gt") {
            decoded = '>';
          } else if (ref == "quot") {
            decoded = '"';
          } else if (ref == "apos") {
            decoded = '\'';
          }
          if (decoded >= 0) {
            if (decoded != '\t' && decoded != '\n' && decoded != '\r') value_.push_back(static_cast<char>(decoded));
            i = semi + 1;
            continue;
          }
        }
      }
      if (c != '\t' && c != '\n' && c != '\r') value_.push_back(c);
      ++i;
    }
    std::size_t a = 0;
    while (a < value_.size() && static_cast<unsigned char>(value_[a]) <= 0x20) ++a;
    const std::string_view v = std::string_view(value_).substr(a);
    if (istarts_with(v, "http://") || istarts_with(v, "https://") || istarts_with(v, "file://") ||
        istarts_with(v, "ftp://") || v.starts_with("\\\\"))
      ++counts_[kExternalRef];
    for (std::size_t p = 0; p + 11 <= v.size(); ++p) {
      if (lower(v[p]) == 'j' && istarts_with(v.substr(p), "javascript:")) {
        ++counts_[kJavascript];
        p += 10;
      }
    }
  }

  std::string_view s_;
  XmlCounts& counts_;
  bool xinclude_ns_ = false;
  std::string value_;  // reused buffer for check_value
};

template <std::size_t N>
void export_counts(const std::array<std::uint64_t, N>& c, const std::array<std::string_view, N>& keys,
                   ActiveContent& out) {
  for (std::size_t i = 0; i < N; ++i)
    if (c[i] > 0) out.counts.emplace(std::string(keys[i]), c[i]);
}

}  // namespace

std::string_view sniff_content_type(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return "unknown";
  if (sniff_pdf(bytes)) return "application/pdf";
  if (sniff_xml(bytes)) return "text/xml";
  if (stl_binary_exact(bytes) || stl_ascii(bytes)) return "model/stl";
  switch (classify_wavefront(bytes)) {
    case Wavefront::obj:
      return "model/obj";
    case Wavefront::mtl:
      return "model/mtl";
    case Wavefront::none:
      break;
  }
  return "unknown";
}

ActiveContent scan_pdf(std::span<const std::uint8_t> bytes, const ActiveContentLimits& lim) {
  ActiveContent out;
  PdfCounts counts{};
  try {
    out.content_type = sniff_content_type(bytes);
    PdfScanner(as_view(bytes), lim, counts, out).run();
  } catch (...) {  // std::bad_alloc: report what was counted
    out.limits_hit = true;
  }
  try {
    export_counts(counts, kPdfMarkers, out);
  } catch (...) {
    out.limits_hit = true;
  }
  return out;
}

ActiveContent scan_xml(std::span<const std::uint8_t> bytes) {
  ActiveContent out;
  XmlCounts counts{};
  try {
    out.content_type = sniff_content_type(bytes);
    const TextStart ts = detect_encoding(bytes);
    if (ts.enc == Encoding::utf8) {
      XmlScanner(as_view(bytes.subspan(ts.offset)), counts).run();
    } else {
      std::string narrow((bytes.size() - ts.offset) / 2, '\0');
      narrow.resize(narrow_utf16(bytes, ts, narrow.data(), narrow.size()));
      XmlScanner(narrow, counts).run();
    }
  } catch (...) {
    out.limits_hit = true;
  }
  try {
    export_counts(counts, kXmlMarkers, out);
  } catch (...) {
    out.limits_hit = true;
  }
  return out;
}

ActiveContent scan_document(std::span<const std::uint8_t> bytes, const ActiveContentLimits& lim) {
  const std::string_view type = sniff_content_type(bytes);
  if (type == "application/pdf") return scan_pdf(bytes, lim);
  if (type == "text/xml") return scan_xml(bytes);
  ActiveContent out;
  try {
    out.content_type = type;
  } catch (...) {
  }
  return out;
}

bool mime_matches(std::string_view declared_mime, std::span<const std::uint8_t> bytes) {
  std::string_view m = declared_mime;
  if (const std::size_t semi = m.find(';'); semi != npos) m = m.substr(0, semi);
  auto pad = [](char c) { return c == '\0' || is_ascii_space(c); };
  while (!m.empty() && pad(m.back())) m.remove_suffix(1);
  while (!m.empty() && pad(m.front())) m.remove_prefix(1);
  if (m.empty()) return true;

  if (iequals(m, "application/pdf") || iequals(m, "application/x-pdf")) return sniff_pdf(bytes);
  if (iequals(m, "text/xml") || iequals(m, "application/xml") ||
      ((istarts_with(m, "application/") || istarts_with(m, "text/")) && iends_with(m, "+xml")))
    return sniff_content_type(bytes) == "text/xml";
  if (iequals(m, "model/stl") || iequals(m, "model/x.stl-ascii") || iequals(m, "model/x.stl-binary") ||
      iequals(m, "application/sla"))
    return stl_ascii(bytes) || stl_binary_size(bytes);
  if (iequals(m, "model/obj")) return sniff_content_type(bytes) == "model/obj";
  if (iequals(m, "model/mtl")) return sniff_content_type(bytes) == "model/mtl";
  return true;  // a type we have no rule for: do not raise a false alarm
}

}  // namespace dg::files
