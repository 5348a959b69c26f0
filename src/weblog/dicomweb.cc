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
  // (length, first letter, last letter) of some keyword: most words that are not keywords stop here.
  std::vector<bool> shape = std::vector<bool>(65 * 26 * 26);
  static std::size_t shape_of(std::size_t n, char first, char last) {
    return (n * 26 + static_cast<std::size_t>(first - 'a')) * 26 + static_cast<std::size_t>(last - 'a');
  }
  std::deque<std::string> names;                            // the lower-case keywords (stable storage)
  bool odd_shapes = false;  // a keyword the shape table cannot hold (none in PS3.6 today): always look up
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
        if (lk.size() <= 64 && lk.front() >= 'a' && lk.front() <= 'z' && lk.back() >= 'a' && lk.back() <= 'z')
          k.shape[KeySet::shape_of(lk.size(), lk.front(), lk.back())] = true;
        else
          k.odd_shapes = true;
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
  const char f = lower(c.front()), l = lower(c.back());
  if (!ks.odd_shapes && (f < 'a' || f > 'z' || l < 'a' || l > 'z' || !ks.shape[KeySet::shape_of(c.size(), f, l)]))
    return nullptr;
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
  // Grouped by their first letter after the slash: s s i w w d d.
  static constexpr std::string_view kMarks[] = {"/studies", "/series",    "/instances", "/workitems",
                                                "/wado",    "/dicom-web", "/dicomweb"};
  for (; p < e; ++p) {
    const char c = *p;
    if (c == '?' || c == '#') break;
    if (c != '/' || p + 1 >= e) continue;
    const char f = lower(p[1]);
    if (f != 's' && f != 'i' && f != 'w' && f != 'd') continue;
    const std::string_view rest(p, static_cast<std::size_t>(e - p));
    const std::size_t from = f == 's' ? 0 : f == 'i' ? 2 : f == 'w' ? 3 : 5;
    const std::size_t to = f == 's' ? 1 : f == 'i' ? 2 : f == 'w' ? 4 : 6;
    for (std::size_t mi = from; mi <= to; ++mi) {
      const std::string_view m = kMarks[mi];
      if (istarts(rest, m)) {
        // A whole segment ("/studies", "/studies/..."), or a prefix of /wado..., /dicomweb..., /dicom-web...
        const std::size_t n = m.size();
        if (rest.size() == n || rest[n] == '/' || rest[n] == ';' || rest[n] == '?' || rest[n] == '#' ||
            m == "/wado" || m == "/dicomweb" || m == "/dicom-web")
          return true;
      }
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

}  // namespace dg::weblog
