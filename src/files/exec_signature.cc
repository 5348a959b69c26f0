#include "files/exec_signature.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "dicom/walker.h"

namespace dg::files {

using dicom::rd16;
using dicom::rd32;

const char* exec_kind_name(ExecKind k) {
  switch (k) {
    case ExecKind::pe: return "PE";
    case ExecKind::dos_mz: return "MZ";
    case ExecKind::elf: return "ELF";
    case ExecKind::macho: return "Mach-O";
    case ExecKind::macho_fat: return "Mach-O universal";
    case ExecKind::java_class: return "Java class";
    case ExecKind::script: return "script";
    case ExecKind::shell_text: return "shell script";
    case ExecKind::ole: return "OLE/MSI";
    case ExecKind::lnk: return "Windows shortcut";
    case ExecKind::html: return "HTML application";
    case ExecKind::zip: return "ZIP";
  }
  return "?";
}

const char* document_kind_name(DocumentKind k) {
  switch (k) {
    case DocumentKind::pdf: return "PDF";
    case DocumentKind::rtf: return "RTF";
    case DocumentKind::html: return "HTML";
  }
  return "?";
}

bool is_archive(ExecKind k) { return k == ExecKind::zip; }

namespace {

std::uint64_t rd64(const std::uint8_t* p, bool be) {
  std::uint64_t a = rd32(p, be), b = rd32(p + 4, be);
  return be ? (a << 32 | b) : (b << 32 | a);
}

std::optional<ExecMatch> pe(std::span<const std::uint8_t> s, bool strict) {
  if (s.size() < 2 || s[0] != 'M' || s[1] != 'Z') return std::nullopt;
  if (s.size() >= 0x40) {
    const std::uint32_t lfanew = rd32(s.data() + 0x3C, false);
    if (lfanew >= 0x40 && lfanew <= s.size() - 24 && std::memcmp(s.data() + lfanew, "PE\0\0", 4) == 0) {
      const std::uint16_t machine = rd16(s.data() + lfanew + 4, false);
      const char* arch = machine == 0x14C    ? "x86"
                         : machine == 0x8664 ? "x86-64"
                         : machine == 0xAA64 ? "ARM64"
                         : machine == 0x1C0 || machine == 0x1C4 ? "ARM"
                                                                 : "other machine";
      return ExecMatch{ExecKind::pe, std::string("PE, ") + arch, {lfanew}};
    }
    if (strict) return std::nullopt;
    // e_lfanew may point past the bytes given (the caller passes the whole file for the preamble).
    return ExecMatch{ExecKind::dos_mz, "MZ header without a PE signature at e_lfanew", {lfanew}};
  }
  if (strict) return std::nullopt;
  return ExecMatch{ExecKind::dos_mz, "MZ header", {}};
}

std::optional<ExecMatch> elf(std::span<const std::uint8_t> s, bool strict) {
  if (s.size() < 16 || std::memcmp(s.data(), "\x7F" "ELF", 4) != 0) return std::nullopt;
  const int cls = s[4], data = s[5];
  // Linux loads an ELF file by its magic, e_type, e_machine and program headers; the class, data and version
  // ident bytes are not checked (the kernel reads the header in its own layout), so a file with them zeroed
  // still runs. Where they are not valid, the layout is the one a 64-bit (or else 32-bit) little-endian kernel
  // would read, recognised by its program header entry size.
  const bool ident_ok = (cls == 1 || cls == 2) && (data == 1 || data == 2) && s[6] == 1;
  bool be = data == 2, is64 = cls == 2;
  if (!ident_ok) {
    be = false;
    if (s.size() >= 64 && rd16(s.data() + 54, false) == 56) is64 = true;
    else if (s.size() >= 52 && rd16(s.data() + 42, false) == 32) is64 = false;
    else if (strict) return std::nullopt;
    else is64 = true;
  }
  ExecMatch m{ExecKind::elf, std::string(is64 ? "ELF64 " : "ELF32 ") + (be ? "big-endian" : "little-endian"), {}};
  if (!ident_ok) m.detail += ", ident bytes the Linux loader ignores";
  const std::size_t hdr = is64 ? 64 : 52;
  if (s.size() < hdr) return strict ? std::nullopt : std::optional<ExecMatch>(m);
  const std::uint16_t type = rd16(s.data() + 16, be);
  if (strict && (type < 1 || type > 4)) return std::nullopt;    // REL, EXEC, DYN, CORE
  if (strict && !ident_ok && type != 2 && type != 3) return std::nullopt;  // only what a loader would run
  const std::uint64_t phoff = is64 ? rd64(s.data() + 32, be) : rd32(s.data() + 28, be);
  const std::uint64_t shoff = is64 ? rd64(s.data() + 40, be) : rd32(s.data() + 32, be);
  const std::uint16_t phentsize = rd16(s.data() + (is64 ? 54 : 42), be);
  const std::uint16_t phnum = rd16(s.data() + (is64 ? 56 : 44), be);
  if (phoff) m.points.push_back(phoff);
  if (shoff) m.points.push_back(shoff);
  // Follow PT_LOAD segments to the bytes they load.
  const std::size_t want = is64 ? 56 : 32;
  if (phentsize >= want && phnum <= 256 && phoff < s.size()) {
    for (std::uint16_t i = 0; i < phnum; ++i) {
      const std::uint64_t at = phoff + std::uint64_t{i} * phentsize;
      if (at > s.size() || s.size() - at < want) break;
      const std::uint8_t* ph = s.data() + at;
      if (rd32(ph, be) != 1) continue;  // PT_LOAD
      const std::uint64_t off = is64 ? rd64(ph + 8, be) : rd32(ph + 4, be);
      const std::uint64_t filesz = is64 ? rd64(ph + 32, be) : rd32(ph + 16, be);
      if (filesz) m.points.push_back(off);
    }
  }
  return m;
}

bool known_cpu(std::uint32_t cpu) {
  switch (cpu) {
    case 7: case 0x01000007: case 12: case 0x0100000C: case 0x0200000C: case 18: case 0x01000012:
      return true;
    default:
      return false;
  }
}

std::optional<ExecMatch> macho(std::span<const std::uint8_t> s, bool strict) {
  if (s.size() < 28) return std::nullopt;
  const std::uint32_t magic = rd32(s.data(), true);
  bool be, is64;
  switch (magic) {
    case 0xFEEDFACE: be = true; is64 = false; break;
    case 0xCEFAEDFE: be = false; is64 = false; break;
    case 0xFEEDFACF: be = true; is64 = true; break;
    case 0xCFFAEDFE: be = false; is64 = true; break;
    default: return std::nullopt;
  }
  const std::uint32_t cpu = rd32(s.data() + 4, be);
  const std::uint32_t ncmds = rd32(s.data() + 16, be), sizeofcmds = rd32(s.data() + 20, be);
  if (ncmds > 4096 || sizeofcmds > (16u << 20)) return std::nullopt;
  if (strict && !known_cpu(cpu)) return std::nullopt;
  ExecMatch m{ExecKind::macho, is64 ? "Mach-O 64-bit" : "Mach-O 32-bit", {}};
  std::uint64_t at = is64 ? 32 : 28;
  for (std::uint32_t i = 0; i < ncmds && at + 8 <= s.size(); ++i) {
    const std::uint32_t cmd = rd32(s.data() + at, be), size = rd32(s.data() + at + 4, be);
    if (size < 8) break;
    if (cmd == 0x19 && at + 56 <= s.size()) {  // LC_SEGMENT_64: fileoff at +40, filesize at +48
      if (rd64(s.data() + at + 48, be)) m.points.push_back(rd64(s.data() + at + 40, be));
    } else if (cmd == 0x1 && at + 40 <= s.size()) {  // LC_SEGMENT: fileoff at +32, filesize at +36
      if (rd32(s.data() + at + 36, be)) m.points.push_back(rd32(s.data() + at + 32, be));
    }
    at += size;
  }
  return m;
}

std::optional<ExecMatch> cafebabe(std::span<const std::uint8_t> s, bool strict) {
  if (s.size() < 8) return std::nullopt;
  const std::uint32_t magic = rd32(s.data(), true);
  if (magic != 0xCAFEBABE && magic != 0xCAFEBABF) return std::nullopt;
  const std::uint32_t n = rd32(s.data() + 4, true);
  if (n >= 1 && n <= 30) {
    const bool is64 = magic == 0xCAFEBABF;
    const std::size_t entry = is64 ? 32 : 20;
    ExecMatch m{ExecKind::macho_fat, "Mach-O universal binary", {}};
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint64_t at = 8 + std::uint64_t{i} * entry;
      if (at + entry > s.size()) break;
      const std::uint32_t cpu = rd32(s.data() + at, true);
      if (strict && !known_cpu(cpu)) return std::nullopt;
      m.points.push_back(is64 ? rd64(s.data() + at + 8, true) : rd32(s.data() + at + 8, true));
    }
    return m;
  }
  if (magic == 0xCAFEBABE) {
    const std::uint16_t major = rd16(s.data() + 6, true);
    if (major >= 45 && major <= 100) return ExecMatch{ExecKind::java_class, "Java class file", {}};
  }
  return std::nullopt;
}

// "#!", then any number of blanks, then an interpreter name (absolute or relative): what binfmt_script runs.
std::optional<ExecMatch> script(std::span<const std::uint8_t> s) {
  if (s.size() < 3 || s[0] != '#' || s[1] != '!') return std::nullopt;
  std::size_t i = 2;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  if (i < s.size() && s[i] != '\n' && s[i] != '\0' && s[i] != '\r')
    return ExecMatch{ExecKind::script, s[i] == '/' ? "#! script" : "#! script (relative interpreter)", {}};
  return std::nullopt;
}

}  // namespace

bool bash_runs_as_script(std::span<const std::uint8_t> s) {
  const std::size_t n = std::min<std::size_t>(s.size(), 80);
  for (std::size_t i = 0; i < n; ++i) {
    if (s[i] == '\n') return true;
    if (s[i] == 0) return false;
  }
  return n > 0;
}

namespace {

// Text that bash or sh would run as a script when execve refuses the file (no "#!"): bash runs it unless a NUL
// comes before the first newline in its first 80 bytes, and then every line is a command. The preamble holds one
// when a line of it is printable text with a letter and a command boundary (the line ends within the preamble,
// or a ; & | ` $ follows a command), so a preamble of blanks, of binary bytes or of one repeated letter does not.
std::optional<ExecMatch> shell_text(std::span<const std::uint8_t> s) {
  if (!bash_runs_as_script(s)) return std::nullopt;
  const std::size_t n = std::min<std::size_t>(s.size(), 128);
  for (std::size_t start = 0; start < n;) {
    bool letter = false, boundary = false, text = true;
    std::size_t i = start;
    for (; i < n; ++i) {
      const std::uint8_t c = s[i];
      if (c == '\n') {
        boundary = true;
        break;
      }
      if (c == '\t' || c == '\r') continue;
      if (c < 0x20 || c >= 0x7F) {
        text = false;
        break;
      }
      letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      boundary |= letter && (c == ';' || c == '&' || c == '|' || c == '`' || c == '$');
    }
    if (text && letter && boundary)
      return ExecMatch{ExecKind::shell_text,
                       start == 0 ? "text that bash and sh run as a shell script (no #!)"
                                  : "bash and sh run the file as a shell script, and a later line of the preamble is a command",
                       {}};
    while (i < n && s[i] != '\n') ++i;  // the next line
    start = i + 1;
  }
  return std::nullopt;
}

// [MS-SHLLINK] 2.1: HeaderSize 0x4C and LinkCLSID 00021401-0000-0000-C000-000000000046.
std::optional<ExecMatch> lnk(std::span<const std::uint8_t> s) {
  static constexpr std::uint8_t kMagic[20] = {0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46};
  if (s.size() < 20 || std::memcmp(s.data(), kMagic, 20) != 0) return std::nullopt;
  return ExecMatch{ExecKind::lnk, "Windows shell link (.lnk): opening it runs its target", {}};
}

bool ieq_at(std::span<const std::uint8_t> s, std::size_t i, std::string_view w) {
  if (i > s.size() || s.size() - i < w.size()) return false;
  for (std::size_t k = 0; k < w.size(); ++k) {
    std::uint8_t c = s[i + k];
    if (c >= 'A' && c <= 'Z') c = static_cast<std::uint8_t>(c + 32);
    if (c != static_cast<std::uint8_t>(w[k])) return false;
  }
  return true;
}

// Markup that browsers and mshta parse as HTML: optional blanks or a BOM, then an HTML tag or doctype.
bool html_start(std::span<const std::uint8_t> s) {
  std::size_t i = 0;
  if (s.size() >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) i = 3;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  if (i >= s.size() || s[i] != '<') return false;
  for (std::string_view t : {"<!doctype html", "<html", "<head", "<body", "<script", "<hta:", "<svg", "<iframe",
                             "<object", "<embed", "<meta", "<title", "<style", "<img", "<div", "<p>", "<!--"})
    if (ieq_at(s, i, t)) return true;
  return false;
}

}  // namespace

std::size_t find_html_script(std::span<const std::uint8_t> s) {
  for (std::size_t i = 0; i + 4 < s.size(); ++i) {
    if (s[i] == '<' && (ieq_at(s, i, "<script") || ieq_at(s, i, "<hta:application"))) return i;
    // An event handler attribute: blank, "on", letters, "=".
    if ((s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '/') && ieq_at(s, i + 1, "on")) {
      std::size_t j = i + 3, letters = 0;
      while (j < s.size() && ((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'z')) ++j, ++letters;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (letters >= 3 && j < s.size() && s[j] == '=') return i + 1;
    }
  }
  return std::string_view::npos;
}

std::optional<DocumentKind> classify_document_preamble(std::span<const std::uint8_t> p) {
  const std::string_view v(reinterpret_cast<const char*>(p.data()), p.size());
  if (v.find("%PDF-") != std::string_view::npos) return DocumentKind::pdf;
  if (v.starts_with("{\\rtf")) return DocumentKind::rtf;
  if (html_start(p)) return DocumentKind::html;
  return std::nullopt;
}

namespace {

std::optional<ExecMatch> ole(std::span<const std::uint8_t> s) {
  static constexpr std::uint8_t kMagic[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
  if (s.size() < 8 || std::memcmp(s.data(), kMagic, 8) != 0) return std::nullopt;
  return ExecMatch{ExecKind::ole, "OLE compound file (MSI, legacy Office)", {}};
}

std::optional<ExecMatch> zip(std::span<const std::uint8_t> s, bool strict) {
  if (s.size() < 30 || std::memcmp(s.data(), "PK\x03\x04", 4) != 0) return std::nullopt;
  const std::uint16_t version = rd16(s.data() + 4, false), method = rd16(s.data() + 8, false);
  const std::uint16_t name_len = rd16(s.data() + 26, false);
  if (strict && (version > 63 || (method != 0 && method != 8 && method != 12 && method != 14 && method != 93) ||
                 name_len == 0 || name_len > 1024))
    return std::nullopt;
  return ExecMatch{ExecKind::zip, "ZIP local file header (ZIP, JAR, APK, Office Open XML)", {}};
}

}  // namespace

std::optional<ExecMatch> classify_at(std::span<const std::uint8_t> s, bool strict) {
  if (s.empty()) return std::nullopt;
  std::optional<ExecMatch> m;
  switch (s[0]) {
    case 'M': m = pe(s, strict); break;
    case 0x7F: m = elf(s, strict); break;
    case 0xFE: case 0xCE: case 0xCF: m = macho(s, strict); break;
    case 0xCA: m = cafebabe(s, strict); break;
    case '#': m = script(s); break;
    case 0xD0: m = ole(s); break;
    case 'P': m = zip(s, strict); break;
    case 0x4C: m = strict ? std::nullopt : lnk(s); break;
    default: break;
  }
  if (m || strict) return m;
  // At the start of a file only: markup that mshta runs.
  if (html_start(s.first(std::min<std::size_t>(s.size(), 128))) &&
      find_html_script(s.first(std::min<std::size_t>(s.size(), 64u << 20))) != std::string_view::npos)
    return ExecMatch{ExecKind::html, "HTML with script (mshta runs it as an HTML application; browsers run it)", {}};
  return std::nullopt;
}

std::optional<ExecMatch> classify_shell_text(std::span<const std::uint8_t> s) { return shell_text(s); }


namespace {

// The two-byte prefixes of every signature searched mid-value. Scripts and Java classes are only recognised at
// the start of a value (their magic is too short to search for in arbitrary data).
constexpr std::uint8_t kPrefix[][2] = {{'M', 'Z'},   {0x7F, 'E'},  {0xFE, 0xED}, {0xCE, 0xFA},
                                       {0xCF, 0xFA}, {0xCA, 0xFE}, {0xD0, 0xCF}, {'P', 'K'}};

bool prefix_at(const std::uint8_t* p) {
  for (const auto& k : kPrefix)
    if (p[0] == k[0] && p[1] == k[1]) return true;
  return false;
}

#if defined(__x86_64__)
// 32 positions at a time with AVX2 where the CPU has it (checked once at run time).
// Nibble tables: bit k of first_lo[n] is set when prefix k's first byte has low nibble n, and so on. For a byte x,
// first_lo[x & 15] & first_hi[x >> 4] is exactly the set of prefixes whose first byte is x (both nibbles of the
// same prefix must match), so two byte shuffles per input vector classify 32 positions at once.
struct NibbleTables {
  alignas(16) std::uint8_t first_lo[16] = {}, first_hi[16] = {}, second_lo[16] = {}, second_hi[16] = {};
  constexpr NibbleTables() {
    for (int k = 0; k < 8; ++k) {
      first_lo[kPrefix[k][0] & 15] |= static_cast<std::uint8_t>(1 << k);
      first_hi[kPrefix[k][0] >> 4] |= static_cast<std::uint8_t>(1 << k);
      second_lo[kPrefix[k][1] & 15] |= static_cast<std::uint8_t>(1 << k);
      second_hi[kPrefix[k][1] >> 4] |= static_cast<std::uint8_t>(1 << k);
    }
  }
};
constexpr NibbleTables kNibbles;

__attribute__((target("avx2"))) inline __m256i classify32(__m256i x, const std::uint8_t* lo, const std::uint8_t* hi) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const __m256i tlo = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(lo)));
  const __m256i thi = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(hi)));
  const __m256i l = _mm256_shuffle_epi8(tlo, _mm256_and_si256(x, mask));
  const __m256i h = _mm256_shuffle_epi8(thi, _mm256_and_si256(_mm256_srli_epi16(x, 4), mask));
  return _mm256_and_si256(l, h);
}

__attribute__((target("avx2"))) inline unsigned candidates32(const std::uint8_t* q) {
  const __m256i a = classify32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)), kNibbles.first_lo,
                               kNibbles.first_hi);
  const __m256i b = classify32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 1)), kNibbles.second_lo,
                               kNibbles.second_hi);
  const __m256i none = _mm256_cmpeq_epi8(_mm256_and_si256(a, b), _mm256_setzero_si256());
  return ~static_cast<unsigned>(_mm256_movemask_epi8(none));
}

// Position i needs bytes p[i] and p[i+1]; the caller guarantees p[end] is readable.
__attribute__((target("avx2"))) std::size_t next_candidate_avx2(const std::uint8_t* p, std::size_t i,
                                                                 std::size_t end) {
  for (; i + 33 <= end; i += 32)
    if (const unsigned mask = candidates32(p + i)) return i + static_cast<std::size_t>(__builtin_ctz(mask));
  if (i >= end) return end;
  // The tail (at most 32 positions) through a zero-padded copy: no prefix starts or ends with a zero byte, so the
  // padding never matches, and small values (most of them) cost one vector step instead of a byte loop.
  alignas(32) std::uint8_t tail[64] = {};
  std::memcpy(tail, p + i, end - i + 1);
  const unsigned mask = candidates32(tail) & ((end - i) >= 32 ? ~0u : ((1u << (end - i)) - 1));
  return mask ? i + static_cast<std::size_t>(__builtin_ctz(mask)) : end;
}
const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#endif

// Index of the next position >= i (and < end) whose two bytes match a prefix, or end.
std::size_t next_candidate(const std::uint8_t* p, std::size_t i, std::size_t end) {
#if defined(__x86_64__)
  if (kHaveAvx2) return next_candidate_avx2(p, i, end);
#endif
#if defined(__SSE2__)
  // 16 positions at a time: compare the bytes at i.. and i+1.. with every prefix (SSE2 is baseline on x86-64).
  while (i + 17 <= end) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
    __m128i hit = _mm_setzero_si128();
    for (const auto& k : kPrefix)
      hit = _mm_or_si128(hit, _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8(static_cast<char>(k[0]))),
                                            _mm_cmpeq_epi8(b, _mm_set1_epi8(static_cast<char>(k[1])))));
    if (const int mask = _mm_movemask_epi8(hit)) return i + static_cast<std::size_t>(__builtin_ctz(mask));
    i += 16;
  }
#endif
  for (; i + 1 < end; ++i)
    if (prefix_at(p + i)) return i;
  return end;
}

}  // namespace

bool has_candidate(std::span<const std::uint8_t> s) {
  return s.size() >= 4 && next_candidate(s.data(), 0, s.size() - 2) < s.size() - 2;
}

std::vector<ExecHit> find_executables(std::span<const std::uint8_t> s, std::size_t max_hits) {
  SearchOptions o;
  o.max_hits = max_hits;
  return find_executables(s, o);
}

std::vector<ExecHit> find_executables(std::span<const std::uint8_t> s, const SearchOptions& o) {
  std::vector<ExecHit> hits;
  const std::uint8_t* p = s.data();
  const std::size_t n = s.size();
  // Headers are validated against the searched bytes and the extent that follows them, when it does.
  const bool extended = !o.extent.empty() && o.extent.data() == s.data() + s.size();
  const std::size_t whole = n + (extended ? o.extent.size() : 0);
  const std::span<const std::uint8_t> region(p, whole);
  if (n >= 4) {
    const std::size_t end = n - 2;  // a candidate needs its two prefix bytes and a little more
    for (std::size_t i = next_candidate(p, 0, end); i < end; i = next_candidate(p, i + 1, end)) {
      auto m = classify_at(region.subspan(i), true);
      if (!m || (i > 0 && m->kind == ExecKind::java_class)) continue;
      hits.push_back({i, std::move(*m)});
      if (hits.size() >= o.max_hits) break;
    }
  }
  if (o.script_at_start && (hits.empty() || hits.front().offset != 0)) {
    if (auto m = script(s)) hits.insert(hits.begin(), {0, std::move(*m)});
  }
  return hits;
}

std::optional<std::uint64_t> find_zip_eocd(std::span<const std::uint8_t> s) {
  if (s.size() < 22) return std::nullopt;
  const std::size_t lo = s.size() > 65535 + 22 ? s.size() - 65535 - 22 : 0;
  // The last occurrence that ends the file wins, as ZIP readers search backwards: so search backwards from the
  // last place a record fits, with memrchr (vectorised) for its first byte, and stop at the first that qualifies.
  // In most files no 'P' in the tail is followed by "K\5\6", and memrchr skips the bytes between candidates.
  auto central_at = [&](std::uint64_t at) {
    return at + 4 <= s.size() && s[at] == 'P' && s[at + 1] == 'K' && s[at + 2] == 1 && s[at + 3] == 2;
  };
  std::size_t hi = s.size() - 22 + 1;  // candidates i in [lo, hi)
  while (hi > lo) {
    const void* hit = ::memrchr(s.data() + lo, 'P', hi - lo);
    if (!hit) break;
    const std::size_t i = static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - s.data());
    hi = i;
    if (s[i + 1] != 'K' || s[i + 2] != 5 || s[i + 3] != 6) continue;
    const std::uint16_t comment = rd16(s.data() + i + 20, false);
    if (i + 22 + comment != s.size()) continue;  // the comment runs exactly to the end
    const std::uint32_t cd_size = rd32(s.data() + i + 12, false), cd_offset = rd32(s.data() + i + 16, false);
    // ZIP64: the 32-bit fields are 0xFFFFFFFF and a locator ("PK\6\7") stands just before the record.
    const bool zip64 = cd_offset == 0xFFFFFFFFu && i >= 20 && s[i - 20] == 'P' && s[i - 19] == 'K' &&
                       s[i - 18] == 6 && s[i - 17] == 7;
    const bool empty = cd_size == 0 && rd16(s.data() + i + 10, false) == 0;
    if (zip64 || (!empty && (central_at(cd_offset) || (cd_size <= i && central_at(i - cd_size))))) return i;
  }
  return std::nullopt;
}

}  // namespace dg::files
