// Text that came from outside (file names, banners and titles of remote servers, product strings) made safe to
// print, and byte strings kept exact in JSON.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace dg {

bool valid_utf8(std::string_view s);

// For a terminal: printable UTF-8 passes; control characters (C0, DEL, C1), Unicode line separators and
// bidirectional overrides (which can make a name read backwards) are written as \n, \r, \t, \e... or \xHH and
// \u{HHHH}, and bytes that are not UTF-8 as \xHH, so no input can move the cursor, erase a line, hide text or
// forge a line of output. With escape_backslash (the default), a backslash is written \\ so that the escaped
// form reads back unambiguously.
std::string terminal_safe(std::string_view s, bool escape_backslash = true);

// RFC 4648 base64 (with padding).
std::string base64(std::span<const unsigned char> bytes);
inline std::string base64(std::string_view s) {
  return base64(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(s.data()), s.size()));
}

}  // namespace dg
