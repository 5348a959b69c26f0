#include "weblog/scan.h"

#include <sys/stat.h>

#include <cstring>
#include <memory>

#include "weblog/dicomweb.h"
#include "weblog/redact.h"
#include "weblog/stream.h"

namespace dg::weblog {

using nlohmann::json;

void LogStats::param(std::string_view k, std::string_view v, Hits& h) const {
  if (k.size() > 3 * kMaxKey) return;
  const PhiKey* pk = nullptr;
  bool plain = true;
  for (char c : k) plain &= c != '%' && c != '+';
  if (plain) {
    pk = phi_key(k);  // nothing to decode (the common case)
  } else {
    std::string dk;
    url_decode(k, dk, kMaxKey + 1);
    pk = phi_key(dk);
  }
  if (!pk) return;
  std::string dv;
  url_decode(v, dv, 4096);
  if (harmless_value(dv)) return;
  h.keys.push_back(pk->name);
  if (opt_.show_values) h.values.emplace_back(pk->name, std::move(dv));
}

void LogStats::query_keys(std::string_view target, Hits& h) const {
  for_each_param(target, [&](std::string_view k, std::string_view v, bool has_value) {
    if (has_value) param(k, v, h);
  });
}

void LogStats::count(const Hits& h, std::map<std::string, std::uint64_t>& keys, std::set<std::uint64_t>& list,
                     std::uint64_t& n, std::uint64_t lineno) {
  ++n;
  for (const std::string& k : h.keys) ++keys[k];
  if (list.size() < kMaxListed) list.insert(lineno);
}

Scope LogStats::phi(Hits& url, Hits& ref, std::uint64_t lineno, Scope scope) {
  if (url.keys.empty() && ref.keys.empty()) return scope;
  ++phi_requests_;
  last_phi_line_ = lineno;
  if (phi_lines_.size() < kMaxListed) phi_lines_.insert(lineno);
  if (!url.keys.empty()) count(url, url_keys_, url_lines_, url_requests_, lineno);
  if (!ref.keys.empty()) count(ref, referer_keys_, referer_lines_, referer_requests_, lineno);
  if (!p_.time.empty()) {
    const std::string t(p_.time.substr(0, 64));
    if (first_time_.empty()) first_time_ = t;
    last_time_ = t;
  }
  if (!p_.client.empty()) {
    std::string c(p_.client.substr(0, 64));
    if (clients_.size() < kMaxListed || clients_.count(c)) clients_.insert(std::move(c));
    else ++clients_dropped_;
  }
  if (opt_.show_values)
    for (const auto* h : {&url, &ref})
      for (const auto& [k, v] : h->values)
        if (values_.size() < kMaxListed)
          values_.push_back({{"line", lineno}, {"key", k}, {"value", v}, {"in", h == &url ? "url" : "referer"}});
  return scope;
}

Scope LogStats::line(std::string_view text, bool truncated, std::uint64_t lineno) {
  lines_ = lineno;
  if (truncated) ++long_lines_;
  if (!parse_line(text, truncated, p_)) {
    // Orthanc writes the body of a QIDO-RS call over several lines after its "Body of the call" line.
    if (orthanc_body_) return Scope::orthanc_body;
    if (!text.empty() && !(text.size() == 1 && text[0] == '\r')) ++unparsed_;
    return Scope::none;
  }
  orthanc_body_ = false;
  ++by_format_[static_cast<int>(p_.format)];
  Hits url, ref;
  if (p_.format == Format::orthanc && !p_.request) {
    // "(plugins) Arguments of QIDO-RS request: [PatientName=DOE%5EJOHN] [includefield=00100020]": the query of
    // the request logged just before, as Orthanc parsed it.
    if (const std::size_t a = text.find("Arguments of "); a != std::string_view::npos) {
      const std::size_t colon = text.find("request: ", a);
      if (colon == std::string_view::npos) return Scope::none;
      std::string_view rest = text.substr(colon + 9);
      while (!rest.empty() && rest[0] == '[') {
        const std::size_t e = rest.find(']');
        const std::string_view item = rest.substr(1, (e == std::string_view::npos ? rest.size() : e) - 1);
        if (const std::size_t eq = item.find('='); eq != std::string_view::npos)
          param(item.substr(0, eq), item.substr(eq + 1), url);
        if (e == std::string_view::npos) break;
        rest = rest.substr(e + 1);
        while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
      }
      return phi(url, ref, lineno, Scope::orthanc_args);
    }
    if (text.find("Body of the call from") != std::string_view::npos) {
      orthanc_body_ = true;
      return Scope::orthanc_body;
    }
    return Scope::none;
  }
  if (!p_.request) return Scope::none;
  ++requests_;
  const bool dw = is_dicomweb_path(p_.target);
  const bool ref_dw = !p_.referer.empty() && is_dicomweb_path(p_.referer);
  if (dw) ++dicomweb_;
  if (!dw && !ref_dw) return Scope::none;
  if (dw && p_.target.find('?') != std::string_view::npos) query_keys(p_.target, url);
  if (!p_.referer.empty() && p_.referer.find('?') != std::string_view::npos) query_keys(p_.referer, ref);
  return phi(url, ref, lineno, Scope::url);
}

void LogStats::long_line_keys(const std::vector<std::string>& keys, std::uint64_t lineno) {
  if (keys.empty()) return;
  // Keys the prefix parse already counted for this line are not counted twice: the redactor's list is the
  // whole line's, so only its surplus over the prefix is new.
  if (last_phi_line_ != lineno) {
    ++phi_requests_;
    ++url_requests_;
    last_phi_line_ = lineno;
    if (phi_lines_.size() < kMaxListed) phi_lines_.insert(lineno);
    if (url_lines_.size() < kMaxListed) url_lines_.insert(lineno);
    for (const std::string& k : keys) ++url_keys_[k];
  }
}

void LogStats::fill(Record& r, const std::string& path) const {
  json& f = r.fields;
  f["path"] = path;
  int best = 0;
  json formats = json::object();
  for (int i = 1; i < kFormats; ++i)
    if (by_format_[i]) {
      formats[format_name(static_cast<Format>(i))] = by_format_[i];
      if (by_format_[i] > by_format_[best] || best == 0) best = i;
    }
  f["format"] = format_name(static_cast<Format>(best));
  f["formats"] = formats;
  f["lines"] = lines_;
  f["unparsed_lines"] = unparsed_;
  f["long_lines"] = long_lines_;
  f["requests"] = requests_;
  f["dicomweb_requests"] = dicomweb_;
  f["phi_requests"] = phi_requests_;
  f["phi_url_requests"] = url_requests_;
  f["phi_referer_requests"] = referer_requests_;
  json keys = json::object();
  for (const auto* m : {&url_keys_, &referer_keys_})
    for (const auto& [k, n] : *m) keys[k] = keys.value(k, std::uint64_t{0}) + n;
  f["keys"] = keys;
  if (!first_time_.empty()) {
    f["first_time"] = first_time_;
    f["last_time"] = last_time_;
  }
  f["clients"] = json(std::vector<std::string>(clients_.begin(), clients_.end()));
  f["clients_truncated"] = clients_dropped_ > 0;
  f["phi_lines"] = json(std::vector<std::uint64_t>(phi_lines_.begin(), phi_lines_.end()));
  if (opt_.show_values) {
    f["values"] = values_;
    if (!values_.empty()) r.note("weblog.values", {{"values", values_}});
  }
  r.status = phi_requests_ ? "phi" : "clean";
  f["status"] = r.status;

  auto finding = [&](const char* check, const std::map<std::string, std::uint64_t>& k,
                     const std::set<std::uint64_t>& l, std::uint64_t n, const char* where) {
    if (!n) return;
    std::string names;
    for (const auto& [name, c] : k) names += (names.empty() ? "" : ", ") + name;
    json ev = {{"requests", n},
               {"keys", json(k)},
               {"lines", json(std::vector<std::uint64_t>(l.begin(), l.end()))},
               {"lines_truncated", n > l.size()}};
    r.findings.push_back(make_finding(check, path, ev,
                                      std::to_string(n) + " DICOMweb request" + (n == 1 ? "" : "s") + " with PHI in " +
                                          where + ": " + names));
  };
  finding("web.phi-in-url", url_keys_, url_lines_, url_requests_, "the URL");
  finding("web.phi-in-referer", referer_keys_, referer_lines_, referer_requests_, "the referer");
}

namespace {

// The pass: lines out of the input, the stats fed, and (when out) the copy written.
std::string pass(Input& in, LogStats& st, const ScanOptions& opt, Output* out, std::uint64_t& redacted) {
  const std::size_t cap = std::max<std::size_t>(1, std::min(opt.parse_cap, opt.block / 2));
  std::unique_ptr<char[]> buf(new char[opt.block]);
  std::string pending;  // redacted bytes waiting to be written
  Redactor red(opt.key, out ? &pending : nullptr);
  std::vector<std::string> body_keys;
  std::uint64_t body_redacted = 0;
  auto flush = [&](bool force) -> bool {
    if (!out || pending.empty() || (!force && pending.size() < (1u << 20))) return true;
    const bool ok = out->write(pending);
    pending.clear();
    return ok;
  };
  auto copy = [&](std::string_view s) -> bool {
    if (!out) return true;
    if (!pending.empty() && !flush(true)) return false;
    return out->write(s);
  };
  // A whole line (without its newline) in scope `sc`; `truncated`: longer than the cap (its keys beyond the
  // cap are only known to the redactor).
  auto whole_line = [&](std::string_view line, Scope sc, bool truncated, std::uint64_t n) {
    if (sc == Scope::orthanc_body && !truncated) {
      body_keys.clear();
      body_redacted += redact_tag_members(line, opt.key, out ? &pending : nullptr, body_keys);
      return;
    }
    red.set_brackets(sc == Scope::orthanc_args);
    red.feed(line);
    red.end_line();
    if (truncated) st.long_line_keys(red.take_keys(), n);
    else red.take_keys();
  };
  std::size_t have = 0;
  std::uint64_t lineno = 0;
  bool eof = false, in_long = false;
  Scope long_scope = Scope::none;
  for (;;) {
    if (!eof && have < opt.block) {
      const long n = in.read(buf.get() + have, opt.block - have);
      if (n < 0) return in.error();
      if (n == 0) eof = true;
      have += static_cast<std::size_t>(n);
    }
    std::size_t pos = 0;
    const char* b = buf.get();
    while (pos < have) {
      const char* nl = static_cast<const char*>(std::memchr(b + pos, '\n', have - pos));
      if (in_long) {
        // The rest of a line longer than the parse cap: through the redactor (in scope) or copied.
        const std::size_t end = nl ? static_cast<std::size_t>(nl - b) : have;
        const std::string_view piece(b + pos, end - pos);
        if (long_scope != Scope::none) red.feed(piece);
        else if (!copy(piece)) return out->error();
        pos = end;
        if (!nl) break;
        if (long_scope != Scope::none) {
          red.end_line();
          st.long_line_keys(red.take_keys(), lineno);
          if (out) pending += '\n';
        } else if (!copy("\n")) {
          return out->error();
        }
        ++pos;
        in_long = false;
        continue;
      }
      if (!nl) break;
      const std::size_t len = static_cast<std::size_t>(nl - b) - pos;
      const std::string_view line(b + pos, len);
      const Scope sc = st.line(len > cap ? line.substr(0, cap) : line, len > cap, ++lineno);
      if (sc != Scope::none && (out || len > cap)) {
        whole_line(line, sc, len > cap, lineno);
        if (out) pending += '\n';
      } else if (!copy(std::string_view(b + pos, len + 1))) {
        return out->error();
      }
      if (!flush(false)) return out->error();
      pos += len + 1;
    }
    const std::size_t partial = have - pos;
    if (!in_long && partial > 0 && (partial >= cap || eof)) {
      // A line longer than the cap starts here (or the last line has no newline).
      const std::string_view line(b + pos, partial);
      const bool truncated = partial > cap || !eof;
      const Scope sc = st.line(truncated ? line.substr(0, cap) : line, truncated, ++lineno);
      if (eof) {
        // Complete: the last line of the log, without a newline.
        if (sc != Scope::none && (out || truncated)) whole_line(line, sc, truncated, lineno);
        else if (!copy(line)) return out->error();
      } else {
        long_scope = sc == Scope::orthanc_body ? Scope::url : sc;
        if (long_scope != Scope::none) {
          red.set_brackets(long_scope == Scope::orthanc_args);
          red.feed(line);
        } else if (!copy(line)) {
          return out->error();
        }
        in_long = true;
      }
      pos = have;
    }
    if (!flush(false)) return out->error();
    if (pos > 0) {
      std::memmove(buf.get(), buf.get() + pos, have - pos);
      have -= pos;
    }
    if (eof && have == 0) break;
  }
  if (in_long && long_scope != Scope::none) {
    red.end_line();
    st.long_line_keys(red.take_keys(), lineno);
  }
  redacted = red.values_redacted() + body_redacted;
  if (!flush(true)) return out->error();
  return {};
}

}  // namespace

Record scan_log(const std::string& path, const ScanOptions& opt, const RedactOptions* redact) {
  Record r;
  r.type = "weblog";
  LogStats st(opt);
  Input in;
  auto fail = [&](const std::string& why) {
    st.fill(r, path);
    r.findings.clear();
    r.status = "error";
    r.fields["status"] = "error";
    r.fields["error"] = why;
    return r;
  };
  if (std::string e = in.open(path); !e.empty()) return fail(e);
  std::uint64_t redacted = 0;
  if (!redact) {
    if (std::string e = pass(in, st, opt, nullptr, redacted); !e.empty()) return fail(path + ": " + e);
    st.fill(r, path);
    r.fields["bytes"] = in.raw_bytes();
    r.fields["gzip"] = in.gzip();
    return r;
  }
  struct stat before {};
  const bool have_before = path != "-" && ::stat(path.c_str(), &before) == 0;
  std::string pass_err;
  util::WriteOptions w;
  w.mode = 0640;  // a log: readable by its group (adm), not by everyone
  w.keep_mode = redact->in_place;
  if (redact->keep) w.keep = redact->keep;
  w.write = [&](int fd) -> std::string {
    Output out(fd, in.gzip());
    pass_err = pass(in, st, opt, &out, redacted);
    if (!pass_err.empty()) return pass_err;
    if (!out.finish()) return out.error();
    return {};
  };
  if (redact->in_place && have_before)
    w.before_replace = [&]() -> std::string {
      struct stat now {};
      if (::stat(path.c_str(), &now) != 0 || now.st_size != before.st_size || now.st_ino != before.st_ino ||
          now.st_mtim.tv_sec != before.st_mtim.tv_sec || now.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
        return "the log changed while it was being redacted (still written to?); left as it is";
      return {};
    };
  const util::WriteResult wr = util::write_durably(redact->output, w);
  if (!wr.ok()) return fail(wr.error);
  st.fill(r, path);
  r.fields["bytes"] = in.raw_bytes();
  r.fields["gzip"] = in.gzip();
  r.fields["output"] = redact->output;
  r.fields["values_redacted"] = redacted;
  if (!wr.kept.empty()) r.fields["backup"] = wr.kept;
  r.status = redacted ? "redacted" : "unchanged";
  r.fields["status"] = r.status;
  return r;
}

}  // namespace dg::weblog
