#include "audit/syslog_parse.h"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace dg::audit::syslog {

void Framer::feed(std::string_view in, std::vector<Frame>& out) {
  std::size_t i = 0;
  while (i < in.size() && state_ != State::dead) {
    const char c = in[i];
    switch (state_) {
      case State::start:
        if (c == '\n' || c == '\r') {
          ++i;  // empty lines between frames
        } else if (c >= '0' && c <= '9') {
          state_ = State::length;
          want_ = static_cast<std::uint64_t>(c - '0');
          digits_ = 1;
          if (want_ == 0) {
            state_ = State::dead;
            out.push_back({Frame::Kind::bad_frame, "a message length starts with 0", 0});
          }
          ++i;
        } else {
          state_ = State::lf;
        }
        break;
      case State::length:
        if (c >= '0' && c <= '9') {
          if (++digits_ > 10) {
            state_ = State::dead;
            out.push_back({Frame::Kind::bad_frame, "a message length of more than 10 digits", 0});
            break;
          }
          want_ = want_ * 10 + static_cast<std::uint64_t>(c - '0');
          ++i;
        } else if (c == ' ') {
          ++i;
          if (want_ > max_) {
            out.push_back({Frame::Kind::oversized, "", want_});
            skip_ = want_;
          }
          state_ = State::counted;
        } else {
          state_ = State::dead;
          out.push_back({Frame::Kind::bad_frame, "a message length not followed by a space", 0});
        }
        break;
      case State::counted: {
        if (skip_ > 0) {
          const std::uint64_t n = std::min<std::uint64_t>(skip_, in.size() - i);
          skip_ -= n;
          i += n;
          if (skip_ == 0) state_ = State::start;
          break;
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(want_ - buf_.size(), in.size() - i));
        buf_.append(in.substr(i, n));
        i += n;
        if (buf_.size() == want_) {
          out.push_back({Frame::Kind::message, std::move(buf_), want_});
          buf_.clear();
          state_ = State::start;
        }
        break;
      }
      case State::lf: {
        const std::size_t nl = in.find('\n', i);
        const std::size_t end = nl == std::string_view::npos ? in.size() : nl;
        if (buf_.size() + (end - i) > max_) {
          out.push_back({Frame::Kind::oversized, "", static_cast<std::uint64_t>(max_) + 1});
          buf_.clear();
          state_ = State::skip_lf;
          break;
        }
        buf_.append(in.substr(i, end - i));
        i = end;
        if (nl != std::string_view::npos) {
          ++i;
          if (!buf_.empty() && buf_.back() == '\r') buf_.pop_back();
          const std::uint64_t size = buf_.size();
          out.push_back({Frame::Kind::message, std::move(buf_), size});
          buf_.clear();
          state_ = State::start;
        }
        break;
      }
      case State::skip_lf: {
        const std::size_t nl = in.find('\n', i);
        if (nl == std::string_view::npos) {
          i = in.size();
        } else {
          i = nl + 1;
          state_ = State::start;
        }
        break;
      }
      case State::dead: break;
    }
  }
}

void Framer::finish(std::vector<Frame>& out) {
  if (state_ == State::lf && !buf_.empty()) {
    if (buf_.back() == '\r') buf_.pop_back();
    const std::uint64_t size = buf_.size();
    out.push_back({Frame::Kind::message, std::move(buf_), size});
  }
  buf_.clear();
  if (state_ != State::dead) state_ = State::start;
}

namespace {

// The next SP-terminated field of printable US-ASCII, at most max characters.
bool field(std::string_view in, std::size_t& i, std::size_t max, std::string& out) {
  const std::size_t sp = in.find(' ', i);
  if (sp == std::string_view::npos || sp == i || sp - i > max) return false;
  for (std::size_t k = i; k < sp; ++k)
    if (in[k] < 33 || in[k] > 126) return false;
  out.assign(in.substr(i, sp - i));
  i = sp + 1;
  return true;
}

// STRUCTURED-DATA: "-" or one or more [SD-ID *(SP PARAM="VALUE")] with \" \\ \] escapes in values.
bool structured(std::string_view in, std::size_t& i, std::string& out) {
  const std::size_t start = i;
  if (i < in.size() && in[i] == '-') {
    ++i;
  } else {
    if (i >= in.size() || in[i] != '[') return false;
    while (i < in.size() && in[i] == '[') {
      bool quoted = false;
      ++i;
      for (;; ++i) {
        if (i >= in.size()) return false;
        const char c = in[i];
        if (quoted) {
          if (c == '\\' && i + 1 < in.size()) ++i;
          else if (c == '"') quoted = false;
        } else if (c == '"') {
          quoted = true;
        } else if (c == ']') {
          ++i;
          break;
        }
      }
    }
  }
  out.assign(in.substr(start, i - start));
  if (i == in.size()) return true;
  if (in[i] != ' ') return false;
  ++i;
  return true;
}

bool digits(std::string_view s, std::size_t at, int n, int& v) {
  if (at + n > s.size()) return false;
  v = 0;
  for (int k = 0; k < n; ++k) {
    const char c = s[at + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

}  // namespace

std::optional<double> parse_time(std::string_view s, bool* had_zone) {
  if (had_zone) *had_zone = false;
  int y, mo, d, h, mi, se;
  if (s.size() < 19 || s.size() > 64 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || s[10] != 'T' || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) ||
      s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || se > 60) return std::nullopt;
  std::size_t i = 19;
  double frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    double scale = 0.1;
    const std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      frac += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == from) return std::nullopt;
  }
  int offset = 0;
  if (i == s.size()) return std::nullopt;  // no zone: local time of an unknown place
  if (s[i] == 'Z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om) || oh > 14 ||
        om > 59)
      return std::nullopt;
    offset = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  if (had_zone) *had_zone = true;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  const std::time_t t = timegm(&tm);
  return static_cast<double>(t) + frac - offset;
}

std::string parse_5424(std::string_view in, Message& out, std::string& why) {
  out = {};
  std::size_t i = 0;
  if (in.empty() || in[0] != '<') {
    why = "does not start with <PRI>";
    return "syslog.pri";
  }
  int pri = 0, n = 0;
  for (i = 1; i < in.size() && in[i] >= '0' && in[i] <= '9' && n < 4; ++i, ++n) pri = pri * 10 + (in[i] - '0');
  if (n == 0 || n > 3 || i >= in.size() || in[i] != '>' || pri > 191 || (n > 1 && in[1] == '0')) {
    why = "PRI is not <0..191>";
    return "syslog.pri";
  }
  out.priority = pri;
  ++i;
  if (i + 1 >= in.size() || in[i] != '1' || in[i + 1] != ' ') {
    why = "not an RFC 5424 message (VERSION 1 expected after the PRI; RFC 3164 is not accepted for audit)";
    return "syslog.version";
  }
  i += 2;
  if (!field(in, i, 64, out.timestamp)) {
    why = "no TIMESTAMP";
    return "syslog.header";
  }
  if (out.timestamp != "-" && !parse_time(out.timestamp)) {
    why = "TIMESTAMP is not an RFC 3339 time with a zone";
    return "syslog.timestamp";
  }
  if (!field(in, i, 255, out.hostname) || !field(in, i, 48, out.app_name) || !field(in, i, 128, out.procid) ||
      !field(in, i, 32, out.msgid)) {
    why = "HOSTNAME, APP-NAME, PROCID or MSGID missing or too long";
    return "syslog.header";
  }
  if (!structured(in, i, out.structured_data)) {
    why = "STRUCTURED-DATA is not '-' or well-formed [SD-ELEMENT]s";
    return "syslog.structured-data";
  }
  std::string_view msg = i <= in.size() ? in.substr(i) : std::string_view{};
  if (msg.size() >= 3 && msg.substr(0, 3) == "\xEF\xBB\xBF") {
    out.bom = true;
    msg.remove_prefix(3);
  }
  out.msg.assign(msg);
  return "";
}

}  // namespace dg::audit::syslog
