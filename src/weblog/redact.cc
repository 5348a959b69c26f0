#include "weblog/redact.h"

namespace dg::weblog {

namespace {
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// Bytes that end a query (a field separator of the log format or the end of a URL).
bool ends_query(char c) { return c == ' ' || c == '"' || c == '\t' || c == '#' || c == '\r' || c == '\n'; }
constexpr std::size_t kRawKeep = 256;  // raw bytes of a value kept to write back a harmless one ("*")
}  // namespace

std::string token_for(const PhiKey& k, std::string_view v, const deid::Key* key) {
  if (!key) return "REDACTED";
  if (k.action != deid::Action::uid) return deid::map_id(*key, v, 16);
  std::string out;
  std::size_t start = 0;
  while (start <= v.size()) {
    std::size_t comma = v.find(',', start);
    if (comma == std::string_view::npos) comma = v.size();
    if (!out.empty() || start > 0) out += ',';
    out += deid::map_uid(*key, v.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::uint64_t redact_tag_members(std::string_view line, const deid::Key* key, std::string* out,
                                 std::vector<std::string>& keys) {
  std::uint64_t n = 0;
  std::size_t done = 0, i = 0;
  // "gggg,eeee" then spaces, ':', spaces, '"': the value runs to the next unescaped '"'.
  while ((i = line.find('"', i)) != std::string_view::npos) {
    if (i + 11 > line.size() || line[i + 5] != ',' || line[i + 10] != '"') {
      ++i;
      continue;
    }
    std::string tag;
    tag.append(line.substr(i + 1, 4)).append(line.substr(i + 6, 4));
    std::size_t j = i + 11;
    while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
    if (j >= line.size() || line[j] != ':') {
      i += 11;
      continue;
    }
    ++j;
    while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
    const PhiKey* pk = phi_key(tag);
    if (j >= line.size() || line[j] != '"' || !pk) {
      i = j;
      continue;
    }
    const std::size_t vb = j + 1;
    std::size_t ve = vb;
    std::string value;
    while (ve < line.size() && line[ve] != '"') {
      if (line[ve] == '\\' && ve + 1 < line.size()) ++ve;
      if (value.size() < kMaxValue) value += line[ve];
      ++ve;
    }
    if (!harmless_value(value)) {
      if (out) out->append(line.substr(done, vb - done)).append(token_for(*pk, value, key));
      done = ve;
      ++n;
      if (keys.size() < 64) keys.push_back(pk->name);
    }
    i = ve + 1;
  }
  if (out) out->append(line.substr(std::min(done, line.size())));
  return n;
}

void Redactor::start_key() {
  st_ = St::key;
  key_text_.clear();
  key_long_ = false;
  pct_ = 0;
}

void Redactor::end_value() {
  if (st_ != St::val) return;
  st_ = St::out;
  if (!phi_) return;
  // A trailing unfinished "%H" stays literal.
  if (pct_ == 1) value_ += '%';
  if (pct_ == 2) value_.append({'%', pct_raw_[0]});
  pct_ = 0;
  if (!value_long_ && value_raw_.size() <= kRawKeep && harmless_value(value_)) {
    emit(value_raw_);  // "*": identifies nobody, written back as it was
  } else {
    emit(value_long_ ? std::string("REDACTED") : token_for(*phi_, value_, key_));
    ++redacted_;
    if (line_keys_.size() < 64) line_keys_.push_back(phi_->name);
  }
  phi_ = nullptr;
  value_.clear();
  value_raw_.clear();
}

// A unit: `raw` as written, `decoded` the byte it stands for (-1: several), `separator`: JSON's "\u0026" ('&').
void Redactor::unit(std::string_view raw, int decoded, bool separator) {
  const char c = raw.size() == 1 ? raw[0] : '\0';
  const bool amp = separator || c == '&';
  switch (st_) {
    case St::out:
      emit(raw);
      // A key starts after '?' or '&', and at the start of a quoted field: JSON logs keep the query in a field
      // of its own ("args":"PatientID=7&limit=1").
      if (amp || c == '?' || c == '"' || (brackets_ && c == '[')) start_key();
      return;
    case St::key:
      emit(raw);
      if (amp || c == '?' || (brackets_ && c == '[')) return start_key();
      if (raw.size() == 1 && (ends_query(c) || (brackets_ && c == ']'))) {
        st_ = St::out;
        return;
      }
      if (c == '=') {
        if (pct_ == 1) key_text_ += '%';
        if (pct_ == 2) key_text_.append({'%', pct_raw_[0]});
        pct_ = 0;
        phi_ = key_long_ ? nullptr : phi_key(key_text_);
        st_ = St::val;
        value_.clear();
        value_raw_.clear();
        value_long_ = false;
        return;
      }
      break;
    case St::val:
      if (amp || (raw.size() == 1 && (ends_query(c) || (brackets_ && c == ']')))) {
        end_value();
        emit(raw);
        if (amp) start_key();
        return;
      }
      if (!phi_) {
        emit(raw);
        return;
      }
      if (value_raw_.size() <= kRawKeep) value_raw_.append(raw);
      break;
  }
  // Decoding into the key or the value: '+' is a space, "%HH" a byte, an escape its byte.
  std::string& dst = st_ == St::key ? key_text_ : value_;
  const std::size_t cap = st_ == St::key ? kMaxKey : kMaxValue;
  bool& too_long = st_ == St::key ? key_long_ : value_long_;
  auto put = [&](char b) {
    if (dst.size() < cap) dst += b;
    else too_long = true;
  };
  if (decoded < 0) {
    put('?');
    return;
  }
  const char d = static_cast<char>(decoded);
  if (pct_ == 0) {
    if (d == '%' && raw.size() == 1) pct_ = 1;
    else put(raw.size() == 1 && d == '+' ? ' ' : d);
  } else if (pct_ == 1) {
    if (hexval(d) >= 0) {
      pct_raw_[0] = d;
      pct_ = 2;
    } else {
      put('%');
      pct_ = 0;
      put(d);
    }
  } else {
    pct_ = 0;
    if (hexval(d) >= 0) {
      put(static_cast<char>(hexval(pct_raw_[0]) << 4 | hexval(d)));
    } else {
      put('%');
      put(pct_raw_[0]);
      put(d);
    }
  }
}

void Redactor::byte(char c) {
  if (esc_n_ > 0) {
    // Inside an escape: "\x" takes 2 hex digits, "\u" 4, anything else is one byte.
    const bool hex_digit = hexval(c) >= 0;
    const std::size_t need = esc_n_ >= 2 ? (esc_[1] == 'x' ? 4u : esc_[1] == 'u' ? 6u : 2u) : 0u;
    if (esc_n_ == 1) {
      esc_[esc_n_++] = c;
      if (c != 'x' && c != 'u') {
        esc_n_ = 0;
        unit(std::string_view(esc_, 2), static_cast<unsigned char>(c), false);
      }
      return;
    }
    if (hex_digit && esc_n_ < need) {
      esc_[esc_n_++] = c;
      if (esc_n_ < need) return;
      const std::string_view raw(esc_, esc_n_);
      esc_n_ = 0;
      int v = 0;
      for (std::size_t i = 2; i < raw.size(); ++i) v = v << 4 | hexval(raw[i]);
      if (raw[1] == 'u' && v == 0x26) return unit(raw, '&', true);
      return unit(raw, v < 256 ? v : -1, false);
    }
    // A broken escape: its bytes as they are, then this byte.
    const std::string_view raw(esc_, esc_n_);
    esc_n_ = 0;
    unit(raw, -1, false);
    return byte(c);
  }
  if (c == '\\') {
    esc_[0] = c;
    esc_n_ = 1;
    return;
  }
  unit(std::string_view(&c, 1), static_cast<unsigned char>(c), false);
}

void Redactor::feed(std::string_view piece) {
  std::size_t i = 0;
  while (i < piece.size()) {
    // Fast path: outside a query, copy up to the next byte that can start one.
    if (st_ == St::out && esc_n_ == 0) {
      std::size_t j = i;
      while (j < piece.size() && piece[j] != '?' && piece[j] != '&' && piece[j] != '\\' && piece[j] != '"' &&
             !(brackets_ && piece[j] == '['))
        ++j;
      if (j > i) emit(piece.substr(i, j - i));
      i = j;
      if (i == piece.size()) break;
    }
    byte(piece[i++]);
  }
}

void Redactor::end_line() {
  if (esc_n_ > 0) {
    const std::string_view raw(esc_, esc_n_);
    esc_n_ = 0;
    unit(raw, -1, false);
  }
  end_value();
  st_ = St::out;
  pct_ = 0;
  phi_ = nullptr;
}

}  // namespace dg::weblog
