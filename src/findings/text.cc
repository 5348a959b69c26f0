#include "findings/text.h"

#include <cstdint>
#include <fmt/format.h>

namespace dg {

namespace {
// Length of the UTF-8 sequence at s[i] and its code point, or 0 when the bytes are not UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF included).
std::size_t utf8_at(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t n;
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
  else return 0;
  if (s.size() - i < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

bool unsafe_code_point(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) ||            // C1 controls (0x9B is a CSI on some terminals)
         cp == 0x061C || cp == 0x200E || cp == 0x200F ||  // bidi marks
         (cp >= 0x202A && cp <= 0x202E) ||         // embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069) ||         // isolates
         cp == 0x2028 || cp == 0x2029 ||           // line and paragraph separators
         cp == 0xFEFF;                             // zero-width no-break space (BOM)
}
}  // namespace

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;  // ASCII, the common case
  for (; i < s.size();) {
    char32_t cp;
    const std::size_t n = utf8_at(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string terminal_safe(std::string_view s, bool escape_backslash) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    const std::size_t n = utf8_at(s, i, cp);
    if (n == 0) {
      out += fmt::format("\\x{:02X}", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (n == 1) {
      const char c = s[i];
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\x1b': out += "\\e"; break;
        case '\\': out += escape_backslash ? "\\\\" : "\\"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) out += fmt::format("\\x{:02X}", static_cast<unsigned char>(c));
          else out.push_back(c);
      }
    } else if (unsafe_code_point(cp)) {
      out += fmt::format("\\u{{{:04X}}}", static_cast<std::uint32_t>(cp));
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string base64(std::span<const unsigned char> b) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    const std::uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    for (int k = 18; k >= 0; k -= 6) out.push_back(kAlphabet[(v >> k) & 63]);
  }
  if (const std::size_t rest = b.size() - i) {
    const std::uint32_t v = (b[i] << 16) | (rest == 2 ? b[i + 1] << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace dg
