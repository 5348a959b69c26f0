#include "weblog/dicomweb.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "dicom/dictionary.h"

namespace dg::weblog {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool istarts(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (lower(s[i]) != p[i]) return false;
  return true;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_tag8(std::string_view s, dicom::Tag& t) {
  if (s.size() != 8) return false;
  std::uint32_t v = 0;
  for (char c : s) {
    const int h = hexval(c);
    if (h < 0) return false;
    v = v << 4 | static_cast<std::uint32_t>(h);
  }
  t = v;
  return true;
}

std::string hex8(dicom::Tag t) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s(8, '0');
  for (int i = 7; i >= 0; --i, t >>= 4) s[static_cast<std::size_t>(i)] = kHex[t & 15];
  return s;
}

struct KeySet {
  std::deque<std::string> names;                            // the lower-case keywords (stable storage)
  std::unordered_map<std::string_view, PhiKey> by_keyword;  // lower-case keyword -> key
  std::unordered_map<dicom::Tag, PhiKey> by_tag;        // exact rows
  std::vector<std::string> keywords;
};

const KeySet& keyset() {
  static const KeySet ks = [] {
    KeySet k;
    for (const deid::Row& r : deid::table()) {
      dicom::Tag t = 0;
      // "(0010,0010)": exact rows only; pattern rows are answered by row_for() for tag keys.
      if (r.tag_text.size() != 11 || r.tag_text[0] != '(' || r.tag_text[5] != ',') continue;
      if (!parse_tag8(r.tag_text.substr(1, 4) + r.tag_text.substr(6, 4), t)) continue;
      const deid::Action a = deid::resolve(r.basic);
      if (a == deid::Action::keep) continue;
      const dicom::DictEntry* e = dicom::lookup(t);
      std::string name = e && e->keyword && *e->keyword ? e->keyword : hex8(t);
      k.by_tag.emplace(t, PhiKey{name, a});
      if (e && e->keyword && *e->keyword) {
        std::string lk(name);
        for (char& c : lk) c = lower(c);
        k.names.push_back(std::move(lk));
        k.by_keyword.emplace(std::string_view(k.names.back()), PhiKey{name, a});
        k.keywords.push_back(name);
      }
    }
    std::sort(k.keywords.begin(), k.keywords.end());
    return k;
  }();
  return ks;
}

// One component of a key path.
const PhiKey* component(std::string_view c) {
  const KeySet& ks = keyset();
  dicom::Tag t = 0;
  if (parse_tag8(c, t)) {
    if (auto it = ks.by_tag.find(t); it != ks.by_tag.end()) return &it->second;
    // Pattern rows (private groups, curves, overlays): one entry per tag seen, bounded by the 2^32 tags but
    // only ever holding those that occur; keep it small by not caching.
    const deid::Row* r = deid::row_for(t);
    if (!r || deid::resolve(r->basic) == deid::Action::keep) return nullptr;
    static thread_local PhiKey scratch;
    scratch = PhiKey{hex8(t), deid::resolve(r->basic)};
    return &scratch;
  }
  if (c.empty() || c.size() > 64) return nullptr;
  char buf[64];
  for (std::size_t i = 0; i < c.size(); ++i) buf[i] = lower(c[i]);
  if (auto it = ks.by_keyword.find(std::string_view(buf, c.size())); it != ks.by_keyword.end()) return &it->second;
  return nullptr;
}

}  // namespace

bool is_dicomweb_path(std::string_view target) {
  const char* p = target.data();
  const char* e = p + target.size();
  // Skip "scheme://host" of an absolute target.
  if (p < e && *p != '/') {
    const std::size_t s = target.find("://");
    if (s == std::string_view::npos) return false;
    const char* slash = static_cast<const char*>(std::memchr(p + s + 3, '/', target.size() - s - 3));
    if (!slash) return false;
    p = slash;
  }
  static constexpr std::string_view kMarks[] = {"/studies", "/series", "/instances", "/workitems",
                                                "/dicom-web", "/dicomweb", "/wado"};
  for (; p < e; ++p) {
    const char c = *p;
    if (c == '?' || c == '#') break;
    if (c != '/' || p + 1 >= e) continue;
    const char f = lower(p[1]);
    if (f != 's' && f != 'i' && f != 'w' && f != 'd') continue;
    const std::string_view rest(p, static_cast<std::size_t>(e - p));
    for (std::string_view m : kMarks)
      if (istarts(rest, m)) {
        // A whole segment ("/studies", "/studies/..."), or a prefix of /wado..., /dicomweb..., /dicom-web...
        const std::size_t n = m.size();
        if (rest.size() == n || rest[n] == '/' || rest[n] == ';' || rest[n] == '?' || rest[n] == '#' ||
            m == "/wado" || m == "/dicomweb" || m == "/dicom-web")
          return true;
      }
  }
  return false;
}

const PhiKey* phi_key(std::string_view k) {
  if (k.empty() || k.size() > kMaxKey) return nullptr;
  const PhiKey* found = nullptr;
  std::size_t start = 0;
  while (start <= k.size()) {
    std::size_t dot = k.find('.', start);
    if (dot == std::string_view::npos) dot = k.size();
    if (const PhiKey* p = component(k.substr(start, dot - start))) found = p;
    start = dot + 1;
  }
  return found;
}

std::vector<std::string> phi_keywords() { return keyset().keywords; }

std::vector<std::pair<std::string, std::string>> phi_tags() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [t, k] : keyset().by_tag) out.emplace_back(hex8(t), k.name);
  std::sort(out.begin(), out.end());
  return out;
}

void url_decode(std::string_view in, std::string& out, std::size_t cap) {
  for (std::size_t i = 0; i < in.size() && out.size() < cap; ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() + 0 && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexval(in[i + 1]) << 4 | hexval(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
}

bool harmless_value(std::string_view v) {
  if (v == "REDACTED") return true;  // what --redact writes without a key
  for (char c : v)
    if (c != '*' && c != '?') return false;
  return true;
}

void for_each_param(std::string_view target,
                    const std::function<void(std::string_view, std::string_view, bool)>& fn) {
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) return;
  std::string_view qs = target.substr(q + 1);
  if (std::size_t h = qs.find('#'); h != std::string_view::npos) qs = qs.substr(0, h);
  std::size_t start = 0;
  while (start <= qs.size()) {
    std::size_t amp = qs.find('&', start);
    if (amp == std::string_view::npos) amp = qs.size();
    const std::string_view p = qs.substr(start, amp - start);
    if (!p.empty()) {
      const std::size_t eq = p.find('=');
      if (eq == std::string_view::npos) fn(p, {}, false);
      else fn(p.substr(0, eq), p.substr(eq + 1), true);
    }
    start = amp + 1;
  }
}

}  // namespace dg::weblog
