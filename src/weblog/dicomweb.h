// DICOMweb URLs in web logs: is a path a DICOMweb (or Orthanc REST) request, the PHI-bearing query keys (every
// attribute of PS3.15 Table E.1-1 whose basic-profile action is not K, by keyword or by ggggeeee tag), and a
// bounded query-string parser with percent and '+' decoding. Pure functions over bytes; nothing here allocates
// from a declared length.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deid/profile.h"

namespace dg::weblog {

// Longest decoded query key looked at (a keyword path "Seq.Seq.Keyword" of the standard fits; longer is not a key).
inline constexpr std::size_t kMaxKey = 256;

// True when the path part of a request target (before '?') names a DICOMweb service: QIDO-RS/WADO-RS/STOW-RS
// (/studies, /series, /instances, /workitems anywhere), a /dicom-web/ or /dicomWeb/ root, or WADO-URI (/wado).
// Case-insensitive. The target may be absolute ("http://host/dicom-web/studies?...").
bool is_dicomweb_path(std::string_view target);

// A PHI-bearing key: its canonical name (the PS3.6 keyword, or ggggeeee when the dictionary has none) and its
// basic-profile action.
struct PhiKey {
  std::string name;
  deid::Action action;
};
// The PHI key a decoded query key names: a keyword (any case), an 8-digit tag (any case), or a dotted path of them
// (the deepest PHI component is returned). nullptr when it is none (includefield, limit, offset, ...).
const PhiKey* phi_key(std::string_view decoded_key);
// Every keyword of the set, sorted (for --list-keys and the benchmark's grep patterns).
std::vector<std::string> phi_keywords();
// Every exact tag of the set as (ggggeeee, name), sorted by tag (pattern rows: private groups, curves and
// overlays, are matched but not listed).
std::vector<std::pair<std::string, std::string>> phi_tags();

// Percent-decoding ('+' is a space). Appends to out, at most cap bytes (the rest is dropped); invalid escapes are
// kept as written.
void url_decode(std::string_view in, std::string& out, std::size_t cap);
// A value that identifies nobody: empty, only the wildcards '*' and '?' (after decoding), or REDACTED (what
// --redact writes without a key, so that a redacted log scans clean).
bool harmless_value(std::string_view decoded);

// Calls fn(raw_key, raw_value, has_value) for each parameter of the query part of target (after the first '?',
// before '#'), split on '&'. Views into target. One pass, no allocation.
template <class Fn>
void for_each_param(std::string_view target, Fn&& fn) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return;
  const char* p = target.data() + q + 1;
  const char* e = target.data() + target.size();
  const char* start = p;
  const char* eq = nullptr;
  for (;; ++p) {
    const bool end = p == e || *p == '#';
    if (end || *p == '&') {
      if (p > start) {
        if (eq) fn(std::string_view(start, static_cast<std::size_t>(eq - start)),
                   std::string_view(eq + 1, static_cast<std::size_t>(p - eq - 1)), true);
        else fn(std::string_view(start, static_cast<std::size_t>(p - start)), std::string_view{}, false);
      }
      if (end) return;
      start = p + 1;
      eq = nullptr;
    } else if (*p == '=' && !eq) {
      eq = p;
    }
  }
}

}  // namespace dg::weblog
