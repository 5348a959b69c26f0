#include "shodan/parse.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

namespace dg::shodan {

using nlohmann::json;

namespace {

constexpr std::size_t kBodyKept = 64 * 1024;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* obj(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

int port_of(const json& j, const char* key) {
  if (!j.is_object()) return -1;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return -1;
  const auto p = it->get<long long>();
  return p >= 1 && p <= 65535 ? static_cast<int>(p) : -1;
}

// Shodan writes binary banners as JSON strings whose code points are the bytes (U+0000..U+00FF); text banners
// are UTF-8 text. Code points all <= 0xFF: the bytes; otherwise the UTF-8 as it is.
std::string banner_bytes(const std::string& utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size()) {
      out.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3F)));
      i += 2;
    } else {
      return utf8;  // a code point above U+00FF: text
    }
  }
  return out;
}

std::string from_hex(const std::string& h) {
  if (h.size() % 2) return {};
  std::string out;
  out.reserve(h.size() / 2);
  for (std::size_t i = 0; i < h.size(); i += 2) {
    const auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    const int a = nib(h[i]), b = nib(h[i + 1]);
    if (a < 0 || b < 0) return {};
    out.push_back(static_cast<char>(a * 16 + b));
  }
  return out;
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// A header value from an HTTP banner's raw text ("Server: Orthanc\r\n"), case-insensitive name.
std::string header_in(const std::string& raw, std::string_view name) {
  const std::string lraw = lower(raw.substr(0, std::min<std::size_t>(raw.size(), 16384)));
  const std::string needle = "\n" + lower(std::string(name)) + ":";
  const auto at = lraw.find(needle);
  if (at == std::string::npos) return {};
  std::size_t b = at + needle.size();
  while (b < raw.size() && (raw[b] == ' ' || raw[b] == '\t')) ++b;
  std::size_t e = raw.find_first_of("\r\n", b);
  if (e == std::string::npos) e = raw.size();
  return raw.substr(b, e - b);
}

int status_in(const std::string& raw) {  // "HTTP/1.1 401 Unauthorized"
  if (raw.rfind("HTTP/", 0) != 0) return -1;
  const auto sp = raw.find(' ');
  if (sp == std::string::npos || sp + 4 > raw.size()) return -1;
  int v = 0;
  for (std::size_t i = sp + 1; i < sp + 4; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(raw[i]))) return -1;
    v = v * 10 + (raw[i] - '0');
  }
  return v;
}

void http_from_raw(Observation& o) {
  if (o.data.rfind("HTTP/", 0) != 0) return;
  o.http = true;
  if (o.http_status < 0) o.http_status = status_in(o.data);
  if (o.http_server.empty()) o.http_server = header_in(o.data, "Server");
  if (o.http_location.empty()) o.http_location = header_in(o.data, "Location");
  if (o.http_auth.empty()) o.http_auth = header_in(o.data, "WWW-Authenticate");
}

// One Shodan banner (https://developer.shodan.io/api/banner-specification).
bool shodan_banner(const json& j, std::vector<Observation>& out, std::string& error) {
  Observation o;
  o.source = "shodan";
  o.address = str(j, "ip_str");
  const int port = port_of(j, "port");
  if (o.address.empty() || port < 0) {
    error = "a Shodan banner without ip_str and port";
    return false;
  }
  o.port = static_cast<std::uint16_t>(port);
  o.transport = lower(str(j, "transport"));
  if (o.transport.empty()) o.transport = "tcp";
  o.seen = normalize_time(str(j, "timestamp"));
  if (const json* s = obj(j, "_shodan")) o.module = lower(str(*s, "module"));
  o.data = banner_bytes(str(j, "data"));
  o.product = str(j, "product");
  o.version = str(j, "version");
  o.org = str(j, "org");
  o.asn = str(j, "asn");
  o.hostnames = strings(j, "hostnames");
  if (const json* h = obj(j, "http")) {
    o.http = true;
    o.http_title = str(*h, "title");
    o.http_server = str(*h, "server");
    o.http_location = str(*h, "location");
    if (auto it = h->find("status"); it != h->end() && it->is_number_integer()) o.http_status = it->get<int>();
    o.http_body = str(*h, "html").substr(0, kBodyKept);
  }
  if (const json* s = obj(j, "ssl")) {
    o.tls = true;
    o.tls_versions = strings(*s, "versions");
  }
  http_from_raw(o);
  out.push_back(std::move(o));
  return true;
}

// One Censys service of a host (Search 2.0 host and the Platform's host record name their fields alike).
void censys_service(const json& s, const std::string& ip, const std::string& host_time, std::vector<Observation>& out) {
  const int port = port_of(s, "port");
  if (port < 0) return;
  Observation o;
  o.source = "censys";
  o.address = ip;
  o.port = static_cast<std::uint16_t>(port);
  o.transport = lower(str(s, "transport_protocol"));
  if (o.transport.empty()) o.transport = "tcp";
  std::string name = str(s, "extended_service_name");
  if (name.empty()) name = str(s, "service_name");
  if (name.empty()) name = str(s, "protocol");
  o.module = lower(name);
  if (s.contains("dicom")) o.module = "dicom";
  std::string t = str(s, "observed_at");
  if (t.empty()) t = str(s, "scan_time");
  o.seen = normalize_time(t.empty() ? host_time : t);
  const std::string hex = str(s, "banner_hex");
  o.data = hex.empty() ? str(s, "banner") : from_hex(hex);
  if (auto it = s.find("software"); it != s.end() && it->is_array())
    for (const auto& sw : *it) {
      if (!o.product.empty()) break;
      o.product = str(sw, "product");
      o.version = str(sw, "version");
    }
  if (const json* h = obj(s, "http")) {
    o.http = true;
    const json* resp = obj(*h, "response");
    const json& r = resp ? *resp : *h;
    o.http_title = str(r, "html_title");
    if (auto it = r.find("status_code"); it != r.end() && it->is_number_integer()) o.http_status = it->get<int>();
    o.http_body = str(r, "body").substr(0, kBodyKept);
    if (const json* hd = obj(r, "headers")) {
      const auto header = [&](const char* wanted) -> std::string {
        for (auto it = hd->begin(); it != hd->end(); ++it) {
          if (lower(it.key()) != lower(wanted)) continue;
          if (it->is_string()) return it->get<std::string>();
          if (it->is_array() && !it->empty() && (*it)[0].is_string()) return (*it)[0].get<std::string>();
          if (it->is_object()) {
            const auto h2 = strings(*it, "headers");
            if (!h2.empty()) return h2[0];
          }
        }
        return {};
      };
      o.http_server = header("server");
      o.http_location = header("location");
      o.http_auth = header("www_authenticate");
      if (o.http_auth.empty()) o.http_auth = header("www-authenticate");
    }
  }
  if (s.contains("tls") || lower(str(s, "service_name")) == "https") o.tls = true;
  http_from_raw(o);
  out.push_back(std::move(o));
}

bool censys_host(const json& h, std::vector<Observation>& out) {
  std::string ip = str(h, "ip");
  const json* services = nullptr;
  if (auto it = h.find("services"); it != h.end() && it->is_array()) services = &*it;
  if (ip.empty() || !services) return false;
  std::string host_time = str(h, "last_updated_at");
  for (const auto& s : *services) censys_service(s, ip, host_time, out);
  return true;
}

bool one(const json& j, std::vector<Observation>& out, std::string& error, int depth);

bool many(const json& arr, std::vector<Observation>& out, std::string& error, int depth) {
  bool any = false;
  for (const auto& e : arr) {
    std::string err;
    if (one(e, out, err, depth + 1)) any = true;
    else if (error.empty()) error = err;
  }
  if (any) error.clear();
  return any || arr.empty();
}

bool one(const json& j, std::vector<Observation>& out, std::string& error, int depth) {
  if (depth > 4) {
    error = "nested too deeply";
    return false;
  }
  if (j.is_array()) return many(j, out, error, depth);
  if (!j.is_object()) {
    error = "not a JSON object";
    return false;
  }
  if (j.contains("ip_str")) return shodan_banner(j, out, error);
  if (censys_host(j, out)) return true;
  // Wrappers: Shodan's host API {"data":[banners]}, Censys' {"result": host | {"hits":[...]} | {"resource":
  // host}}, and the Platform's {"host": ...}.
  for (const char* key : {"result", "resource", "host", "hits", "data", "matches"}) {
    auto it = j.find(key);
    if (it != j.end() && (it->is_object() || it->is_array())) return one(*it, out, error, depth + 1);
  }
  error = "neither a Shodan banner (ip_str, port) nor a Censys host (ip, services)";
  return false;
}

}  // namespace

std::string normalize_time(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS, then fraction, then Z / +hh:mm / nothing (Shodan: UTC).
  if (t.size() < 19) return {};
  for (std::size_t i = 0; i < 19; ++i) {
    const char c = t[i];
    const bool digit = std::isdigit(static_cast<unsigned char>(c));
    if ((i == 4 || i == 7) ? c != '-' : i == 10 ? (c != 'T' && c != ' ') : (i == 13 || i == 16) ? c != ':' : !digit)
      return {};
  }
  std::tm tm{};
  const auto num = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (t[i] - '0');
    return v;
  };
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return {};
  std::size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  }
  long offset = 0;
  if (i < t.size()) {
    if (t[i] == 'Z' && i + 1 == t.size()) {
    } else if ((t[i] == '+' || t[i] == '-') && t.size() == i + 6 && t[i + 3] == ':' &&
               std::isdigit(static_cast<unsigned char>(t[i + 1])) && std::isdigit(static_cast<unsigned char>(t[i + 2])) &&
               std::isdigit(static_cast<unsigned char>(t[i + 4])) && std::isdigit(static_cast<unsigned char>(t[i + 5]))) {
      offset = (num(i + 1, 2) * 60L + num(i + 4, 2)) * 60L * (t[i] == '-' ? -1 : 1);
    } else {
      return {};
    }
  }
  const std::time_t s = timegm(&tm) - offset;
  std::tm u{};
  if (!gmtime_r(&s, &u)) return {};
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &u);
  return buf;
}

Parsed parse_document(std::string_view text) {
  Parsed p;
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) {
    p.error = "not JSON";
    return p;
  }
  if (!one(j, p.observations, p.error, 0) && p.error.empty()) p.error = "not a known export record";
  return p;
}

}  // namespace dg::shodan
