#include "weblog/formats.h"

#include <cstring>
#include <nlohmann/json.hpp>

namespace dg::weblog {

const char* format_name(Format f) {
  switch (f) {
    case Format::combined: return "combined";
    case Format::common: return "common";
    case Format::haproxy: return "haproxy";
    case Format::squid: return "squid";
    case Format::orthanc: return "orthanc";
    case Format::json: return "json";
    case Format::unknown: break;
  }
  return "unknown";
}

namespace {

using sv = std::string_view;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The end of a quoted field that starts after the opening quote at `from`: the next '"' not escaped by a
// backslash (Apache writes \" , nginx \x22). npos when there is none.
std::size_t quote_end(sv s, std::size_t from) {
  for (std::size_t i = from; i < s.size(); ++i) {
    const char* q = static_cast<const char*>(std::memchr(s.data() + i, '"', s.size() - i));
    if (!q) return sv::npos;
    std::size_t at = static_cast<std::size_t>(q - s.data());
    std::size_t bs = 0;
    while (at - bs > from && s[at - bs - 1] == '\\') ++bs;
    if (bs % 2 == 0) return at;
    i = at;
  }
  return sv::npos;
}

// "GET /path HTTP/1.1" -> "/path". Empty when the request has no target.
sv request_target(sv req) {
  std::size_t sp = 0;
  while (sp < req.size() && sp <= 16 && req[sp] != ' ') {
    if (!(req[sp] >= 'A' && req[sp] <= 'Z') && req[sp] != '-' && req[sp] != '_') return {};
    ++sp;
  }
  if (sp == req.size() || sp == 0 || sp > 16) return {};
  sv rest = req.substr(sp + 1);
  const std::size_t end = rest.rfind(" HTTP/");
  if (end != sv::npos) rest = rest.substr(0, end);
  return rest;
}

// A quoted field starting at `at` (which holds '"'): its content; `next` is after the closing quote.
bool quoted(sv line, std::size_t at, bool truncated, sv& field, std::size_t& next) {
  if (at >= line.size() || line[at] != '"') return false;
  std::size_t e = quote_end(line, at + 1);
  if (e == sv::npos) {
    if (!truncated) return false;
    e = line.size();
  }
  field = line.substr(at + 1, e - at - 1);
  next = e + 1;
  return true;
}

// nginx/Apache: CLIENT IDENT USER [TIME] "REQUEST" STATUS BYTES ["REFERER" "AGENT" ...]
bool parse_clf(sv line, bool truncated, Parsed& out) {
  const char* d = line.data();
  const std::size_t n = line.size();
  // Short fields: plain loops (cheaper than a memchr call for a few bytes).
  std::size_t sp = 0;
  const std::size_t lim0 = std::min<std::size_t>(n, 256);
  while (sp < lim0 && d[sp] != ' ') ++sp;
  if (sp == 0 || sp == lim0) return false;
  // The first '[' after the client, preceded by a space (IDENT and USER hold none in practice).
  const std::size_t lim = std::min(n, sp + 512);
  std::size_t lb = sp;
  while (lb < lim && d[lb] != '[') ++lb;
  if (lb == lim || d[lb - 1] != ' ') return false;
  const std::size_t lim2 = std::min(n, lb + 64);
  std::size_t rb = lb;
  while (rb < lim2 && d[rb] != ']') ++rb;
  if (rb == lim2) return false;
  if (rb + 2 >= n || d[rb + 1] != ' ') return false;
  sv req;
  std::size_t next = 0;
  if (!quoted(line, rb + 2, truncated, req, next)) return false;
  out.client = line.substr(0, sp);
  out.time = line.substr(lb + 1, rb - lb - 1);
  out.target = request_target(req);
  out.request = !out.target.empty();
  out.format = Format::common;
  // STATUS BYTES "REFERER"
  std::size_t i = next;
  for (int field = 0; field < 2; ++field) {
    if (i >= n || d[i] != ' ') return true;
    ++i;
    while (i < n && d[i] != ' ') ++i;
  }
  if (i + 1 < n && d[i] == ' ' && d[i + 1] == '"') {
    sv ref;
    if (quoted(line, i + 1, truncated, ref, next)) {
      out.format = Format::combined;
      if (ref != "-") out.referer = ref;
    }
  }
  return true;
}

// HAProxy httplog: [SYSLOG PREFIX haproxy[PID]: ]CLIENT:PORT [TIME] ... "REQUEST"
bool parse_haproxy(sv line, bool truncated, Parsed& out) {
  std::size_t start = 0;
  if (std::size_t h = line.find("]: "); h != sv::npos && h < 256) start = h + 3;
  const std::size_t sp = line.find(' ', start);
  if (sp == sv::npos || sp == start || sp - start > 64 || sp + 1 >= line.size() || line[sp + 1] != '[') return false;
  const sv cp = line.substr(start, sp - start);
  const std::size_t colon = cp.rfind(':');
  if (colon == sv::npos || colon == 0 || colon + 1 == cp.size() || !is_digit(cp[colon + 1])) return false;
  const std::size_t rb = line.find(']', sp + 2);
  if (rb == sv::npos || rb > sp + 64) return false;
  const std::size_t q = line.find('"', rb);
  out.format = Format::haproxy;
  out.client = cp.substr(0, colon);
  out.time = line.substr(sp + 2, rb - sp - 2);
  if (q == sv::npos) return true;
  sv req;
  std::size_t next = 0;
  if (!quoted(line, q, truncated, req, next)) return true;
  out.target = request_target(req);
  out.request = !out.target.empty();
  return true;
}

// Squid native: EPOCH.MS ELAPSED CLIENT CODE/STATUS BYTES METHOD URL ...
bool parse_squid(sv line, Parsed& out) {
  // The first field is the time: digits '.' digits (an IPv4 address, CLF's first field, has three dots).
  std::size_t k0 = 0, dots = 0;
  while (k0 < line.size() && line[k0] != ' ') {
    if (line[k0] == '.') ++dots;
    else if (!is_digit(line[k0])) return false;
    ++k0;
  }
  if (dots != 1) return false;
  sv tok[7];
  std::size_t i = 0;
  for (int t = 0; t < 7; ++t) {
    while (i < line.size() && line[i] == ' ') ++i;
    const std::size_t b = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (b == i) return false;
    tok[t] = line.substr(b, i - b);
  }
  const std::size_t dot = tok[0].find('.');
  if (dot == sv::npos || dot == 0) return false;
  for (std::size_t k = 0; k < tok[0].size(); ++k)
    if (k != dot && !is_digit(tok[0][k])) return false;
  if (tok[3].find('/') == sv::npos) return false;
  out.format = Format::squid;
  out.time = tok[0];
  out.client = tok[2];
  out.target = tok[6];
  out.request = true;
  return true;
}

// Orthanc (glog): "I1202 14:33:08.123456 ... HttpServer.cpp:1234] ... GET /dicom-web/studies?..."
bool parse_orthanc(sv line, Parsed& out) {
  if (line.size() < 22 || !std::strchr("IWEFT", line[0]) || line[0] == 0) return false;
  for (int k = 1; k <= 4; ++k)
    if (!is_digit(line[static_cast<std::size_t>(k)])) return false;
  if (line[5] != ' ' || !is_digit(line[6]) || line[8] != ':') return false;
  out.format = Format::orthanc;
  std::size_t te = line.find(' ', 6);
  if (te == sv::npos) te = line.size();
  out.time = line.substr(0, te);
  const std::size_t rb = line.find("] ", te);
  if (rb == sv::npos) return true;
  const sv msg = line.substr(rb + 2);
  static constexpr sv kMethods[] = {"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS "};
  for (sv m : kMethods) {
    std::size_t at = msg.find(m);
    while (at != sv::npos) {
      if ((at == 0 || msg[at - 1] == ' ' || msg[at - 1] == ')') && at + m.size() < msg.size() &&
          msg[at + m.size()] == '/') {
        sv t = msg.substr(at + m.size());
        const std::size_t e = t.find(' ');
        out.target = e == sv::npos ? t : t.substr(0, e);
        out.request = true;
        return true;
      }
      at = msg.find(m, at + 1);
    }
  }
  return true;
}

const nlohmann::json* field(const nlohmann::json& o, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (auto it = o.find(n); it != o.end() && (it->is_string() || it->is_number())) return &*it;
  return nullptr;
}
std::string text(const nlohmann::json* j) {
  if (!j) return {};
  return j->is_string() ? j->get<std::string>() : j->dump();
}

// Nesting deeper than a log record needs is refused before parsing (the parser and the value's destructor
// would otherwise follow it as deep as the line goes).
bool shallow(sv line) {
  int depth = 0;
  bool in_str = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '{' || c == '[') {
      if (++depth > 16) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

bool parse_json(sv line, Parsed& out) {
  if (!shallow(line)) return false;
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return false;
  out.format = Format::json;
  static const auto kUrl = {"url", "uri", "request_uri", "request_url", "requestUrl", "requestURI", "URL", "path"};
  static const auto kQuery = {"query", "query_string", "args", "querystring"};
  static const auto kClient = {"remote_addr", "client_ip", "remote_ip", "clientip", "client", "ip", "remote", "src_ip"};
  static const auto kTime = {"time", "timestamp", "@timestamp", "ts", "time_local", "time_iso8601", "date"};
  static const auto kRef = {"referer", "http_referer", "referrer", "Referer"};
  const nlohmann::json* objs[2] = {&j, nullptr};
  for (auto it = j.begin(); it != j.end() && !objs[1]; ++it)
    if (it->is_object() && (field(*it, kUrl) || it.key() == "request")) objs[1] = &*it;
  for (const nlohmann::json* o : objs) {
    if (!o) continue;
    if (out.store_target.empty()) {
      if (const auto* u = field(*o, kUrl)) {
        out.store_target = text(u);
        if (out.store_target.find('?') == std::string::npos)
          if (const auto* q = field(*o, kQuery); q && !text(q).empty()) {
            std::string qs = text(q);
            out.store_target += (qs[0] == '?' ? "" : "?") + qs;
          }
      } else if (auto r = o->find("request"); r != o->end() && r->is_string()) {
        const std::string req = r->get<std::string>();
        out.store_target = std::string(request_target(req));
      }
    }
    if (out.store_client.empty()) out.store_client = text(field(*o, kClient));
    if (out.store_time.empty()) out.store_time = text(field(*o, kTime));
    if (out.store_referer.empty()) out.store_referer = text(field(*o, kRef));
  }
  if (out.store_referer == "-") out.store_referer.clear();
  out.target = out.store_target;
  out.client = out.store_client;
  out.time = out.store_time;
  out.referer = out.store_referer;
  out.request = !out.target.empty();
  return true;
}

}  // namespace

static void reset(Parsed& p) {
  p.format = Format::unknown;
  p.request = false;
  p.time = p.client = p.target = p.referer = {};
  p.store_time.clear();
  p.store_client.clear();
  p.store_target.clear();
  p.store_referer.clear();
}

bool parse_line(sv line, bool truncated, Parsed& out) {
  reset(out);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i == line.size()) return false;
  const char c = line[i];
  if (c == '{') return !truncated && parse_json(line.substr(i), out);
  if (std::strchr("IWEFT", c) && parse_orthanc(line, out)) return true;
  if (is_digit(c) && parse_squid(line, out)) return true;
  // CLF's second field is the ident ("-"); HAProxy's client is ADDR:PORT followed by " [".
  std::size_t sp = 0;
  while (sp < line.size() && line[sp] != ' ') ++sp;
  if (sp + 1 < line.size() && line[sp + 1] != '[' && parse_clf(line, truncated, out)) return true;
  if (parse_haproxy(line, truncated, out)) return true;
  reset(out);
  return false;
}

}  // namespace dg::weblog
