// A bounded HTTP/1.1 response reader for the scan's HTTP probe: status line, headers, and a body delimited by
// Content-Length, chunked encoding or the end of the connection. Never allocates from a declared length.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace dg::scan::http {

inline constexpr std::size_t kMaxResponse = 256 * 1024;  // bytes kept of one response; the rest is an error

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  const std::string* header(const std::string& lower_name) const;
};

// Parses what arrived so far. Returns a Response once it is complete (at_eof: the peer closed the connection),
// nullopt when more bytes are needed; sets `error` (and returns nullopt) when the bytes are not HTTP or break a
// limit.
std::optional<Response> parse(std::span<const std::uint8_t> bytes, bool at_eof, std::string& error);

// A GET request with Connection: close; extra headers as "Name: value" lines (without CRLF).
std::string get(const std::string& host, const std::string& path, const std::vector<std::string>& extra = {});

}  // namespace dg::scan::http
