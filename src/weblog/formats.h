// Web-server log lines: which format a line is in, and where its time, client, request target and referer are.
// Recognised: nginx/Apache combined and common, HAProxy (httplog, with or without a syslog prefix), Squid native,
// Orthanc's own log (glog style, "... HttpServer.cpp:NNN] ... GET /path"), and one JSON object per line (a URL
// field, at the top level or one object down). Bounded: a line is looked at as given (the caller caps it); every
// index is checked against the line's end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dg::weblog {

enum class Format : std::uint8_t { unknown, combined, common, haproxy, squid, orthanc, json };
inline constexpr int kFormats = 7;
const char* format_name(Format f);  // "combined", "common", ...

struct Parsed {
  Format format = Format::unknown;
  bool request = false;        // the line is a request (a target was found)
  std::string_view time, client, target, referer;  // views into the line or into the stores below
  std::string store_time, store_client, store_target, store_referer;  // JSON lines: the decoded strings
};

// Parses one line (without its newline). `truncated`: the line goes on beyond `line` (a quoted field may then run
// to the end of what is given). Returns false when the line is in no known format.
bool parse_line(std::string_view line, bool truncated, Parsed& out);

}  // namespace dg::weblog
