// Running the file analysis in unit tests and reading its findings.
#pragma once

#include <zlib.h>

#include <set>
#include <string>
#include <vector>

#include "builder.h"
#include "files/analyze.h"

namespace dgtest {

inline dg::files::FileReport an(const Bytes& b, const dg::files::AnalyzeOptions& o = {}) {
  return dg::files::analyze_bytes({b.data(), b.size()}, "t.dcm", o);
}
inline std::multiset<std::string> ids(const dg::files::FileReport& r) {
  std::multiset<std::string> s;
  for (auto& f : r.findings) s.insert(f.check);
  return s;
}
inline const dg::Finding* first(const dg::files::FileReport& r, const std::string& id) {
  for (auto& f : r.findings)
    if (f.check == id) return &f;
  return nullptr;
}
inline std::vector<const dg::Finding*> all(const dg::files::FileReport& r, const std::string& id) {
  std::vector<const dg::Finding*> v;
  for (auto& f : r.findings)
    if (f.check == id) v.push_back(&f);
  return v;
}
// Everything the analysis said, for failure messages.
inline std::string all_output(const dg::files::FileReport& r) {
  std::string s = r.fields.dump();
  for (auto& f : r.findings) s += "\n" + f.check + ": " + f.title + " " + f.evidence.dump();
  return s;
}
// Raw deflate (as in Deflated Explicit VR Little Endian), sized for any input.
inline Bytes deflate_raw(const Bytes& in) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace dgtest
