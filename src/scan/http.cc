#include "scan/http.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace dg::scan::http {

const std::string* Response::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// Decodes a chunked body; returns false when more bytes are needed; sets error on malformed input.
bool dechunk(std::string_view in, std::string& out, std::string& error) {
  std::size_t i = 0;
  for (;;) {
    const std::size_t eol = in.find("\r\n", i);
    if (eol == std::string_view::npos) {
      if (in.size() - i > 32) error = "chunk size line too long";
      return false;
    }
    std::string_view line = in.substr(i, eol - i);
    if (auto semi = line.find(';'); semi != std::string_view::npos) line = line.substr(0, semi);
    std::size_t size = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    if (ec != std::errc() || p != line.data() + line.size() || line.empty()) {
      error = "malformed chunk size";
      return false;
    }
    i = eol + 2;
    if (size == 0) return true;  // trailers are ignored
    if (size > kMaxResponse || out.size() + size > kMaxResponse) {
      error = "chunked body larger than the limit";
      return false;
    }
    if (in.size() - i < size + 2) return false;
    out.append(in.substr(i, size));
    i += size + 2;
  }
}

}  // namespace

std::optional<Response> parse(std::span<const std::uint8_t> bytes, bool at_eof, std::string& error) {
  const std::string_view in(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (in.size() >= 5 && in.substr(0, 5) != "HTTP/") {
    error = "not an HTTP response";
    return std::nullopt;
  }
  if (in.size() > kMaxResponse + 16384) {
    error = "response larger than the limit";
    return std::nullopt;
  }
  const std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (in.size() > 16384) error = "response headers larger than 16 KiB";
    else if (at_eof) error = "connection closed inside the response headers";
    return std::nullopt;
  }
  Response r;
  std::string_view head = in.substr(0, head_end);
  std::size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  const auto sp = status_line.find(' ');
  if (sp == std::string_view::npos || status_line.size() < sp + 4) {
    error = "malformed status line";
    return std::nullopt;
  }
  auto [p, ec] = std::from_chars(status_line.data() + sp + 1, status_line.data() + sp + 4, r.status);
  if (ec != std::errc() || r.status < 100 || r.status > 999) {
    error = "malformed status code";
    return std::nullopt;
  }
  std::size_t i = eol == std::string_view::npos ? head.size() : eol + 2;
  while (i < head.size()) {
    std::size_t e = head.find("\r\n", i);
    if (e == std::string_view::npos) e = head.size();
    std::string_view line = head.substr(i, e - i);
    if (auto colon = line.find(':'); colon != std::string_view::npos && r.headers.size() < 100)
      r.headers.emplace_back(lower(std::string(line.substr(0, colon))), trim(line.substr(colon + 1)));
    i = e + 2;
  }
  std::string_view body = in.substr(head_end + 4);
  if (const std::string* te = r.header("transfer-encoding"); te && lower(*te).find("chunked") != std::string::npos) {
    if (!dechunk(body, r.body, error)) {
      if (error.empty() && at_eof) error = "connection closed inside a chunked body";
      return std::nullopt;
    }
    return r;
  }
  if (const std::string* cl = r.header("content-length")) {
    std::size_t n = 0;
    auto [q, e2] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (e2 != std::errc() || q != cl->data() + cl->size()) {
      error = "malformed Content-Length";
      return std::nullopt;
    }
    if (n > kMaxResponse) {
      error = "body larger than the limit";
      return std::nullopt;
    }
    if (body.size() < n) {
      if (at_eof) error = "connection closed before the end of the body";
      return std::nullopt;
    }
    r.body.assign(body.substr(0, n));
    return r;
  }
  if (r.status == 204 || r.status == 304 || r.status / 100 == 1) return r;
  if (!at_eof) return std::nullopt;  // delimited by the end of the connection
  r.body.assign(body.substr(0, std::min(body.size(), kMaxResponse)));
  return r;
}

std::string get(const std::string& host, const std::string& path, const std::vector<std::string>& extra) {
  std::string s = "GET " + path + " HTTP/1.1\r\nHost: " + host +
                  "\r\nUser-Agent: dicomguard/0.1 (security scan)\r\nAccept: application/json, "
                  "application/dicom+json;q=0.9, */*;q=0.1\r\nConnection: close\r\n";
  for (const auto& h : extra) s += h + "\r\n";
  return s + "\r\n";
}

}  // namespace dg::scan::http
