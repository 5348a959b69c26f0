#include "files/active_content.h"

#include "util/inflate.h"
#include "util/page_buffer.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
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

bool stl_binary_exact(Bytes b, std::uint64_t size) {
  if (b.size() < 84) return false;
  const std::uint64_t tri = static_cast<std::uint64_t>(b[80]) | (static_cast<std::uint64_t>(b[81]) << 8) |
                            (static_cast<std::uint64_t>(b[82]) << 16) | (static_cast<std::uint64_t>(b[83]) << 24);
  return 84 + 50 * tri == size;
}

bool stl_binary_size(std::uint64_t size) { return size >= 84 && (size - 84) % 50 == 0; }

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

// /Encrypt counts too: an encrypted document (even one that opens with an empty password) cannot be inspected,
// and a clinical document has no reason to be encrypted inside a DICOM object.
constexpr std::array<std::string_view, 14> kPdfMarkers = {
    "/JavaScript", "/JS",  "/OpenAction", "/AA",   "/Launch", "/EmbeddedFile", "/RichMedia",
    "/XFA",        "/SubmitForm", "/URI", "/GoToR", "/GoToE",  "/ImportData", "/Encrypt"};
constexpr std::size_t kMaxInterestingName = 16;

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

// Reads the name token whose '/' is at s[slash] (#xx escapes decoded; names longer than kMaxInterestingName are
// returned empty). `next` is set to the position after the name.
std::string_view read_pdf_name(std::string_view s, std::size_t slash, std::size_t end, char (&buf)[kMaxInterestingName],
                               std::size_t& next) {
  std::size_t i = slash + 1, len = 0;
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
    if (len < kMaxInterestingName) buf[len++] = c;
    else too_long = true;
  }
  next = i;
  return too_long ? std::string_view() : std::string_view(buf, len);
}

// Counts marker names in s[begin, end).
void scan_pdf_names(std::string_view s, std::size_t begin, std::size_t end, PdfCounts& counts) {
  std::size_t p = begin;
  char buf[kMaxInterestingName];
  while (p < end) {
    const void* hit = std::memchr(s.data() + p, '/', end - p);
    if (hit == nullptr) break;
    const std::size_t slash = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
    const std::string_view name = read_pdf_name(s, slash, end, buf, p);
    if (name.empty()) continue;
    for (std::size_t k = 0; k < kPdfMarkers.size(); ++k)
      if (kPdfMarkers[k].substr(1) == name) {
        ++counts[k];
        break;
      }
  }
}

// The filters PDF readers apply to a stream, in order (PDF 32000-1 7.4). Decoding each is bounded by a cap on
// its output; none is sized from the input.
enum class PdfFilter { flate, ascii_hex, ascii85, lzw, run_length, opaque };

PdfFilter pdf_filter(std::string_view name) {
  if (name == "FlateDecode" || name == "Fl") return PdfFilter::flate;
  if (name == "ASCIIHexDecode" || name == "AHx") return PdfFilter::ascii_hex;
  if (name == "ASCII85Decode" || name == "A85") return PdfFilter::ascii85;
  if (name == "LZWDecode" || name == "LZW") return PdfFilter::lzw;
  if (name == "RunLengthDecode" || name == "RL") return PdfFilter::run_length;
  return PdfFilter::opaque;  // DCT, JPX, CCITTFax, JBIG2, Crypt, or unknown
}

enum class DecodeStatus { complete, truncated, error };

// Appends to out, which never grows past cap + 1 bytes (one more than the cap tells "more" from "exactly").
using Buffer = util::PageBytes;  // big decoding buffers go back to the kernel when freed

class CappedOut {
 public:
  CappedOut(Buffer& out, std::size_t cap) : out_(out), hard_(cap < SIZE_MAX ? cap + 1 : cap) {
    out_.clear();
  }
  bool put(std::uint8_t c) {
    if (out_.size() >= hard_) return false;
    if (out_.size() == out_.capacity()) out_.reserve(std::min(hard_, std::max<std::size_t>(out_.capacity() * 2, 4096)));
    out_.push_back(c);
    return true;
  }
  bool full() const { return out_.size() >= hard_; }
  Buffer& vec() { return out_; }
  std::size_t hard() const { return hard_; }

 private:
  Buffer& out_;
  std::size_t hard_;
};

DecodeStatus decode_flate(std::span<const std::uint8_t> in, CappedOut& o) {
  util::Inflater z(in, util::Inflater::Format::sniff);  // some writers omit the zlib header
  Buffer& v = o.vec();
  while (!o.full()) {
    const std::size_t old = v.size();
    const std::size_t want = std::min(o.hard() - old, std::max<std::size_t>(old, 64u << 10));
    if (v.capacity() < old + want) v.reserve(std::min(o.hard(), std::max(old + want, v.capacity() * 2)));
    v.resize(old + want);
    const std::size_t n = z.read({v.data() + old, want});
    v.resize(old + n);
    if (z.state() == util::Inflater::State::done) return DecodeStatus::complete;
    if (z.state() == util::Inflater::State::corrupt) return DecodeStatus::error;
  }
  return DecodeStatus::truncated;
}

DecodeStatus decode_ascii_hex(std::span<const std::uint8_t> in, CappedOut& o) {
  int hi = -1;
  for (std::uint8_t c : in) {
    if (c == '>') break;
    if (is_pdf_space(static_cast<char>(c))) continue;
    const int v = hex_value(static_cast<char>(c));
    if (v < 0) return DecodeStatus::error;
    if (hi < 0) {
      hi = v;
    } else {
      if (!o.put(static_cast<std::uint8_t>(hi * 16 + v))) return DecodeStatus::truncated;
      hi = -1;
    }
  }
  if (hi >= 0 && !o.put(static_cast<std::uint8_t>(hi * 16))) return DecodeStatus::truncated;
  return DecodeStatus::complete;
}

DecodeStatus decode_ascii85(std::span<const std::uint8_t> in, CappedOut& o) {
  std::uint32_t acc = 0;
  int n = 0;
  auto flush = [&](int count) {  // writes count-1 bytes of a group of `count` characters
    for (int i = n; i < 5; ++i) acc = acc * 85 + 84;  // pad with 'u'
    for (int i = 0; i < count - 1; ++i)
      if (!o.put(static_cast<std::uint8_t>(acc >> (24 - 8 * i)))) return false;
    return true;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::uint8_t c = in[i];
    if (c == '~') break;  // "~>" ends the data
    if (is_pdf_space(static_cast<char>(c))) continue;
    if (c == 'z' && n == 0) {
      for (int k = 0; k < 4; ++k)
        if (!o.put(0)) return DecodeStatus::truncated;
      continue;
    }
    if (c < '!' || c > 'u') return DecodeStatus::error;
    acc = acc * 85 + (c - '!');
    if (++n == 5) {
      for (int k = 0; k < 4; ++k)
        if (!o.put(static_cast<std::uint8_t>(acc >> (24 - 8 * k)))) return DecodeStatus::truncated;
      acc = 0;
      n = 0;
    }
  }
  if (n == 1) return DecodeStatus::error;
  if (n > 1) {
    const int have = n;
    if (!flush(have)) return DecodeStatus::truncated;
  }
  return DecodeStatus::complete;
}

// LZW as PDF uses it (7.4.4): 9- to 12-bit codes, MSB first, 256 clears, 257 ends, EarlyChange 1.
DecodeStatus decode_lzw(std::span<const std::uint8_t> in, CappedOut& o) {
  struct Entry {
    std::uint16_t prefix;  // previous code, or 0xFFFF for single bytes
    std::uint8_t last, first;
    std::uint16_t len;
  };
  std::vector<Entry> table(4096);
  for (int i = 0; i < 256; ++i) table[i] = {0xFFFF, static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i), 1};
  int next = 258, width = 9, prev = -1;
  std::uint32_t bits = 0;
  int nbits = 0;
  std::vector<std::uint8_t> tmp;
  auto emit = [&](int code) {
    tmp.resize(table[code].len);
    for (int c = code, k = table[code].len - 1; k >= 0; c = table[c].prefix, --k) tmp[k] = table[c].last;
    for (std::uint8_t b : tmp)
      if (!o.put(b)) return false;
    return true;
  };
  for (std::size_t i = 0; i < in.size() || nbits >= width;) {
    while (nbits < width && i < in.size()) {
      bits = (bits << 8) | in[i++];
      nbits += 8;
    }
    if (nbits < width) break;
    const int code = static_cast<int>((bits >> (nbits - width)) & ((1u << width) - 1));
    nbits -= width;
    if (code == 256) {
      next = 258;
      width = 9;
      prev = -1;
      continue;
    }
    if (code == 257) return DecodeStatus::complete;
    if (prev < 0) {
      if (code > 255) return DecodeStatus::error;
      if (!emit(code)) return DecodeStatus::truncated;
      prev = code;
      continue;
    }
    std::uint8_t first;
    if (code < next) {
      first = table[code].first;
    } else if (code == next) {
      first = table[prev].first;  // the KwKwK case
    } else {
      return DecodeStatus::error;
    }
    if (next < 4096) {
      table[next] = {static_cast<std::uint16_t>(prev), first, table[prev].first,
                     static_cast<std::uint16_t>(std::min<int>(table[prev].len + 1, 4096))};
      ++next;
    }
    if (!emit(code)) return DecodeStatus::truncated;
    prev = code;
    if (next + 1 >= (1 << width) && width < 12) ++width;  // EarlyChange: one code early
  }
  return DecodeStatus::complete;  // no EOD: readers accept the data as it is
}

DecodeStatus decode_run_length(std::span<const std::uint8_t> in, CappedOut& o) {
  for (std::size_t i = 0; i < in.size();) {
    const std::uint8_t n = in[i++];
    if (n == 128) return DecodeStatus::complete;
    if (n < 128) {
      for (int k = 0; k <= n && i < in.size(); ++k)
        if (!o.put(in[i++])) return DecodeStatus::truncated;
    } else if (i < in.size()) {
      const std::uint8_t b = in[i++];
      for (int k = 0; k < 257 - n; ++k)
        if (!o.put(b)) return DecodeStatus::truncated;
    }
  }
  return DecodeStatus::complete;
}

DecodeStatus decode_pdf_filter(PdfFilter f, std::span<const std::uint8_t> in, Buffer& out,
                               std::size_t cap) {
  CappedOut o(out, cap);
  DecodeStatus st = DecodeStatus::error;
  switch (f) {
    case PdfFilter::flate: st = decode_flate(in, o); break;
    case PdfFilter::ascii_hex: st = decode_ascii_hex(in, o); break;
    case PdfFilter::ascii85: st = decode_ascii85(in, o); break;
    case PdfFilter::lzw: st = decode_lzw(in, o); break;
    case PdfFilter::run_length: st = decode_run_length(in, o); break;
    case PdfFilter::opaque: break;
  }
  if (out.size() > cap) {
    out.resize(cap);
    st = DecodeStatus::truncated;
  }
  return st;
}

// What a stream's dictionary says about decoding it.
struct StreamDict {
  bool found = false;
  std::vector<PdfFilter> filters;  // in the order they apply
  bool filter_unreadable = false;  // an indirect /Filter (N 0 R) or something that is not a name
  bool image = false, objstm = false;
  // /DecodeParms of a Flate or LZW filter (the last one given applies): PNG (10-15) or TIFF (2) predictor.
  int predictor = 1, colors = 1, bits = 8, columns = 1;
};

// Undoes a PNG or TIFF predictor (PDF 32000-1 7.4.4.4) in place: what writers apply before Flate to object and
// cross-reference streams. Rows are `columns` samples of `colors` x `bits`.
bool unpredict(Buffer& data, const StreamDict& d) {
  if (d.predictor < 2) return true;
  if (d.colors < 1 || d.colors > 32 || d.columns < 1 || d.columns > (1 << 20) ||
      (d.bits != 1 && d.bits != 2 && d.bits != 4 && d.bits != 8 && d.bits != 16))
    return false;
  const std::size_t bpp = std::max<std::size_t>(1, static_cast<std::size_t>(d.colors * d.bits + 7) / 8);
  const std::size_t row = (static_cast<std::size_t>(d.colors) * d.bits * d.columns + 7) / 8;
  if (d.predictor == 2) {  // TIFF: horizontal differencing, 8-bit samples only here
    if (d.bits != 8) return false;
    for (std::size_t r = 0; r + row <= data.size(); r += row)
      for (std::size_t i = bpp; i < row; ++i) data[r + i] = static_cast<std::uint8_t>(data[r + i] + data[r + i - bpp]);
    return true;
  }
  // PNG: each row is a filter type byte, then the row.
  Buffer out;
  out.reserve(data.size() / (row + 1) * row);
  std::vector<std::uint8_t> prev(row, 0), cur(row);
  for (std::size_t r = 0; r + 1 + row <= data.size(); r += row + 1) {
    const std::uint8_t type = data[r];
    const std::uint8_t* in = data.data() + r + 1;
    for (std::size_t i = 0; i < row; ++i) {
      const int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      int pred = 0;
      switch (type) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          pred = (pa <= pb && pa <= pc) ? a : pb <= pc ? b : c;
          break;
        }
        default: return false;
      }
      cur[i] = static_cast<std::uint8_t>(in[i] + pred);
    }
    out.insert(out.end(), cur.begin(), cur.end());
    prev.swap(cur);
  }
  data.swap(out);
  return true;
}

class PdfScanner {
 public:
  PdfScanner(std::string_view s, const ActiveContentLimits& lim, PdfCounts& counts, ActiveContent& out)
      : s_(s), lim_(lim), counts_(counts), out_(out) {}

  void run() {
    std::size_t pos = 0;           // raw scanning resumes here
    std::size_t keyword_from = 0;  // "stream" keywords before this lie inside stream data and are ignored
    for (;;) {
      const std::size_t k = next_stream_keyword(std::max(pos, keyword_from));
      const std::size_t region_end = k == npos ? s_.size() : k;
      scan_pdf_names(s_, pos, region_end, counts_);
      if (k == npos) break;

      const StreamDict d = stream_dict(pos, k);
      const std::size_t body = stream_body_start(k);
      std::size_t body_end = next_endstream(body);
      const std::size_t after = body_end == npos ? s_.size() : body_end + 9;
      if (body_end == npos) body_end = s_.size();
      keyword_from = after;

      if (d.filters.empty() && !d.filter_unreadable) {
        pos = body;  // unfiltered data is scanned as it is (an uncompressed object stream holds plain objects)
        continue;
      }
      pos = after;  // encoded data: only its decoded form carries names
      const bool decodable =
          !d.filter_unreadable && std::none_of(d.filters.begin(), d.filters.end(), [](PdfFilter f) { return f == PdfFilter::opaque; });
      if (!decodable) {
        // A filter we do not decode (DCT, JPX, Crypt, an indirect /Filter ...): opaque data, but an object
        // stream hidden behind it is content we could not scan.
        if (d.objstm) out_.limits_hit = true;
        continue;
      }
      if (d.image && !d.objstm) continue;  // pixels carry no PDF syntax
      decode_stream(d, body, body_end);
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

  // The dictionary just before the "stream" keyword at k: from its closing ">>" back to the "<<" that opens it
  // (nested dictionaries such as /DecodeParms counted), at most 64 KiB back and not before `from`. Only names at
  // its own level are read, so a key such as /Kobj or a nested dictionary cannot hide its /Filter.
  StreamDict stream_dict(std::size_t from, std::size_t k) const {
    StreamDict d;
    std::size_t e = k;
    while (e > from && is_pdf_space(s_[e - 1])) --e;
    if (e < from + 2 || s_[e - 1] != '>' || s_[e - 2] != '>') return d;
    const std::size_t floor = std::max(from, k > (64u << 10) ? k - (64u << 10) : 0);
    std::size_t depth = 0, open = npos;
    for (std::size_t i = e; i-- > floor + 1;) {
      if (s_[i] == '>' && s_[i - 1] == '>') {
        ++depth;
        --i;
      } else if (s_[i] == '<' && s_[i - 1] == '<') {
        if (--depth == 0) {
          open = i - 1;
          break;
        }
        --i;
      }
    }
    if (open == npos) return d;
    d.found = true;
    // Walk the dictionary forwards at its own level (and one level down for /DecodeParms).
    const std::size_t end = e - 2;
    int level = 0, array = 0;
    bool want_filter = false, in_parms = false;
    int parms_level = -1;
    char buf[kMaxInterestingName];
    auto number_after = [&](std::size_t j) {
      while (j < end && is_pdf_space(s_[j])) ++j;
      int v = 0;
      bool any = false;
      while (j < end && is_digit(s_[j]) && v < 1'000'000) v = v * 10 + (s_[j++] - '0'), any = true;
      return any ? v : -1;
    };
    for (std::size_t i = open + 2; i < end;) {
      const char c = s_[i];
      if (c == '<' && i + 1 < end && s_[i + 1] == '<') {
        ++level;
        i += 2;
        want_filter = false;
        if (in_parms && parms_level < 0) parms_level = level;
      } else if (c == '>' && i + 1 < end && s_[i + 1] == '>') {
        if (level == parms_level) {
          parms_level = -1;
          in_parms = false;
        }
        --level;
        i += 2;
      } else if (c == '[' && level == 0) {
        ++array;
        ++i;
      } else if (c == ']' && level == 0) {
        if (array > 0) --array;
        if (array == 0) want_filter = false;
        ++i;
      } else if (c == '/') {
        std::size_t next;
        const std::string_view name = read_pdf_name(s_, i, end, buf, next);
        i = next;
        if (level != 0 && level == parms_level) {
          const int v = number_after(i);
          if (v >= 0) {
            if (name == "Predictor") d.predictor = v;
            else if (name == "Colors") d.colors = v;
            else if (name == "BitsPerComponent") d.bits = v;
            else if (name == "Columns") d.columns = v;
          }
          continue;
        }
        if (level != 0) continue;
        if (name == "DecodeParms" || name == "DP") {
          in_parms = true;
          continue;
        }
        if (want_filter) {
          d.filters.push_back(pdf_filter(name));
          if (array == 0) want_filter = false;
          continue;
        }
        if (array > 0) continue;
        if (name == "Filter") {
          want_filter = true;
          // The value follows: a name, or an array of names; anything else (an indirect reference) is unreadable.
          std::size_t j = i;
          while (j < end && is_pdf_space(s_[j])) ++j;
          if (j >= end || (s_[j] != '/' && s_[j] != '[')) {
            d.filter_unreadable = true;
            want_filter = false;
          }
        } else if (name == "Image") {
          d.image = true;
        } else if (name == "ObjStm") {
          d.objstm = true;
        }
      } else if (c == '(' && level == 0) {
        // A literal string: skip it, with escapes and nested parentheses.
        int paren = 0;
        for (; i < end; ++i) {
          if (s_[i] == '\\') ++i;
          else if (s_[i] == '(') ++paren;
          else if (s_[i] == ')' && --paren == 0) break;
        }
        ++i;
      } else {
        if (want_filter && array == 0 && !is_pdf_space(c)) want_filter = false;
        ++i;
      }
    }
    if (d.filters.size() > 8) d.filter_unreadable = true;  // no real writer chains that many
    return d;
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

  void decode_stream(const StreamDict& d, std::size_t body, std::size_t body_end) {
    const std::vector<PdfFilter>& filters = d.filters;
    // Whitespace-only data: nothing could hide there.
    std::size_t b = body;
    while (b < body_end && is_pdf_space(s_[b])) ++b;
    if (b == body_end) return;
    if (attempted_ >= lim_.max_streams || decoded_total_ >= lim_.max_inflated_total) {
      out_.limits_hit = true;
      return;
    }
    ++attempted_;
    const std::size_t cap = std::min(lim_.max_inflated_per_stream, lim_.max_inflated_total - decoded_total_);
    std::span<const std::uint8_t> in(reinterpret_cast<const std::uint8_t*>(s_.data()) + body, body_end - body);
    Buffer* out = &a_;
    bool complete = true;
    for (PdfFilter f : filters) {
      const DecodeStatus st = decode_pdf_filter(f, in, *out, cap);
      if (st != DecodeStatus::complete) complete = false;
      in = {out->data(), out->size()};
      out = out == &a_ ? &b_ : &a_;
      if (in.empty()) break;
    }
    if (d.predictor >= 2 && !in.empty()) {
      Buffer& last = in.data() == a_.data() ? a_ : b_;
      if (!unpredict(last, d)) complete = false;
      in = {last.data(), last.size()};
    }
    if (!complete) out_.limits_hit = true;
    if (!in.empty() || complete) {
      ++out_.streams_inflated;
      decoded_total_ += in.size();
      const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
      scan_pdf_names(text, 0, text.size(), counts_);
    }
  }

  std::string_view s_;
  const ActiveContentLimits& lim_;
  PdfCounts& counts_;
  ActiveContent& out_;
  Buffer a_, b_;  // decoding stages, reused between streams
  std::size_t attempted_ = 0;
  std::size_t decoded_total_ = 0;
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
  kEventHandler,
  kDataUri,
  kNumXmlMarkers
};
constexpr std::array<std::string_view, kNumXmlMarkers> kXmlMarkers = {
    "<!DOCTYPE", "<!ENTITY", "SYSTEM", "PUBLIC", "xi:include", "<?xml-stylesheet", "<script", "javascript:",
    "external-reference", "on*", "data:"};
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
  XmlScanner(std::string_view s, XmlCounts& counts, std::uint64_t& relative_stylesheets)
      : s_(s), counts_(counts), relative_stylesheets_(relative_stylesheets) {}

  void run() {
    // Both XInclude namespaces (the 2001 Candidate Recommendation's and the 2006 Recommendation's 2001 one, and
    // the 2003 draft's, which libxml2 also honours).
    xinclude_ns_ = s_.find("http://www.w3.org/2001/XInclude") != npos || s_.find("http://www.w3.org/2003/XInclude") != npos;
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
    std::size_t end = s_.find("?>", e);
    if (end == npos) end = s_.size();
    href_ = {};
    in_stylesheet_pi_ = target == "xml-stylesheet";
    attributes(s_.substr(0, end), e);  // pseudo-attributes: href="..."
    if (in_stylesheet_pi_) {
      // A stylesheet next to the document (HL7's boilerplate <?xml-stylesheet href="CDA.xsl"?>) is what viewers
      // expect; one fetched from elsewhere, or given as a script or data URI, can run code in the viewer.
      if (relative_reference(href_)) ++relative_stylesheets_;
      else ++counts_[kStylesheet];
    }
    in_stylesheet_pi_ = false;
    return end == s_.size() ? end : end + 2;
  }

  // A relative URI reference: no scheme, not scheme-relative ("//host"), not a UNC path, not empty.
  static bool relative_reference(std::string_view v) {
    while (!v.empty() && static_cast<unsigned char>(v.front()) <= 0x20) v.remove_prefix(1);
    if (v.empty() || v.starts_with("//") || v.starts_with("\\\\") || v.starts_with("/")) return false;
    for (char c : v) {
      if (c == ':') return false;  // a scheme (http:, javascript:, data:, file:, C:)
      if (c == '/' || c == '?' || c == '#') break;
    }
    return true;
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
      if (event_handler(name)) ++counts_[kEventHandler];
      check_value(value);
      if (in_stylesheet_pi_ && name == "href") href_ = value_;
    }
    return s.size();
  }

  // An event handler attribute (onload, onclick, ...: "on" and at least three letters): script in an XHTML or
  // SVG part of a document, which browsers run. CDA defines no attribute of that form.
  static bool event_handler(std::string_view name) {
    const std::size_t colon = name.rfind(':');
    if (colon != npos) name = name.substr(colon + 1);
    if (name.size() < 5 || lower(name[0]) != 'o' || lower(name[1]) != 'n') return false;
    for (char c : name.substr(2))
      if (!is_alpha(c)) return false;
    return true;
  }

  // An attribute value or system literal: character references decoded (numeric ones with any number of leading
  // zeros, as XML allows), tab/CR/LF removed (as URL parsers do), leading spaces and controls dropped.
  void check_value(std::string_view raw) {
    value_.clear();
    if (raw.empty()) return;
    for (std::size_t i = 0; i < raw.size();) {
      const char c = raw[i];
      if (c == '&') {
        const std::size_t semi = raw.find(';', i + 1);
        const bool numeric = i + 1 < raw.size() && raw[i + 1] == '#';
        if (semi != npos && (semi - i <= 12 || (numeric && semi - i <= 256))) {
          const std::string_view ref = raw.substr(i + 1, semi - i - 1);
          int decoded = -1;
          if (ref.size() >= 2 && ref[0] == '#') {
            unsigned long v = 0;
            const bool hex = ref[1] == 'x' || ref[1] == 'X';
            bool ok = ref.size() > (hex ? 2u : 1u);
            for (std::size_t d = hex ? 2 : 1; ok && d < ref.size(); ++d) {
              const int h = hex ? hex_value(ref[d]) : (is_digit(ref[d]) ? ref[d] - '0' : -1);
              if (h < 0) ok = false;
              v = std::min<unsigned long>(v * (hex ? 16 : 10) + static_cast<unsigned>(h), 0x110000);
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
    for (std::size_t p = 0; p + 9 <= v.size(); ++p) {
      if (lower(v[p]) == 'j' && istarts_with(v.substr(p), "javascript:")) {
        ++counts_[kJavascript];
        p += 10;
      } else if (lower(v[p]) == 'v' && istarts_with(v.substr(p), "vbscript:")) {
        ++counts_[kJavascript];
        p += 8;
      }
    }
    // A data: URI of a page or a script carries its own active content.
    if (istarts_with(v, "data:")) {
      const std::string_view type = v.substr(5);
      for (std::string_view t : {"text/html", "application/xhtml", "image/svg", "text/javascript", "application/javascript",
                                 "application/x-javascript", "text/xml", "application/xml"})
        if (istarts_with(type, t)) {
          ++counts_[kDataUri];
          break;
        }
    }
  }

  std::string_view s_;
  XmlCounts& counts_;
  std::uint64_t& relative_stylesheets_;
  bool xinclude_ns_ = false;
  bool in_stylesheet_pi_ = false;
  std::string value_;  // reused buffer for check_value
  std::string href_;   // the href of the stylesheet processing instruction being read
};

template <std::size_t N>
void export_counts(const std::array<std::uint64_t, N>& c, const std::array<std::string_view, N>& keys,
                   ActiveContent& out) {
  for (std::size_t i = 0; i < N; ++i)
    if (c[i] > 0) out.counts.emplace(std::string(keys[i]), c[i]);
}

}  // namespace

std::string_view sniff_content_type(std::span<const std::uint8_t> bytes) {
  return sniff_content_type(bytes, bytes.size());
}

std::string_view sniff_content_type(std::span<const std::uint8_t> bytes, std::uint64_t size) {
  if (bytes.empty()) return "unknown";
  if (sniff_pdf(bytes)) return "application/pdf";
  if (sniff_xml(bytes)) return "text/xml";
  if (stl_binary_exact(bytes, size) || stl_ascii(bytes)) return "model/stl";
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
      XmlScanner(as_view(bytes.subspan(ts.offset)), counts, out.relative_stylesheets).run();
    } else {
      // UTF-16 is narrowed into a copy, of at most kMaxNarrowed characters.
      constexpr std::size_t kMaxNarrowed = 16u << 20;
      const std::size_t units = (bytes.size() - ts.offset) / 2;
      if (units > kMaxNarrowed) out.limits_hit = true;
      util::PageString narrow(std::min(units, kMaxNarrowed), '\0');
      narrow.resize(narrow_utf16(bytes, ts, narrow.data(), narrow.size()));
      XmlScanner(std::string_view(narrow.data(), narrow.size()), counts, out.relative_stylesheets).run();
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
  return mime_matches(declared_mime, bytes, bytes.size());
}

bool mime_matches(std::string_view declared_mime, std::span<const std::uint8_t> bytes, std::uint64_t size) {
  std::string_view m = declared_mime;
  if (const std::size_t semi = m.find(';'); semi != npos) m = m.substr(0, semi);
  auto pad = [](char c) { return c == '\0' || is_ascii_space(c); };
  while (!m.empty() && pad(m.back())) m.remove_suffix(1);
  while (!m.empty() && pad(m.front())) m.remove_prefix(1);
  if (m.empty()) return true;

  if (iequals(m, "application/pdf") || iequals(m, "application/x-pdf")) return sniff_pdf(bytes);
  if (iequals(m, "text/xml") || iequals(m, "application/xml") ||
      ((istarts_with(m, "application/") || istarts_with(m, "text/")) && iends_with(m, "+xml")))
    return sniff_content_type(bytes, size) == "text/xml";
  if (iequals(m, "model/stl") || iequals(m, "model/x.stl-ascii") || iequals(m, "model/x.stl-binary") ||
      iequals(m, "application/sla"))
    return stl_ascii(bytes) || stl_binary_size(size);
  if (iequals(m, "model/obj")) return sniff_content_type(bytes, size) == "model/obj";
  if (iequals(m, "model/mtl")) return sniff_content_type(bytes, size) == "model/mtl";
  return true;  // a type we have no rule for: do not raise a false alarm
}

}  // namespace dg::files
