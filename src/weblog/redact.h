// The streaming redactor of one log line: every value of a PHI-bearing query key (dicomweb.h) in the line
// ("?KEY=VALUE" or "&KEY=VALUE", also after JSON's "\u0026", or KEY=VALUE at the start of a quoted field, as
// JSON logs keep "args") is replaced by a keyed pseudonym or REDACTED; every other byte is copied as it is. The
// line may arrive in pieces of any size (a line longer than any buffer is fed piece by piece): the state between
// pieces is a few bytes, a key of at most kMaxKey bytes and a value of at most kMaxValue decoded bytes (a longer
// value becomes REDACTED whatever the key).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deid/pseudonym.h"
#include "weblog/dicomweb.h"

namespace dg::weblog {

inline constexpr std::size_t kMaxValue = 1 << 20;

// The token for a decoded value: with a key, map_uid() of each comma-separated UID for keys whose action is U,
// map_id() (16 characters of base32) otherwise, the same functions as `dicomguard deid` (so a Patient ID in a log
// and in the de-identified files gets the same token); without a key, "REDACTED".
std::string token_for(const PhiKey& k, std::string_view decoded, const deid::Key* key);

// Orthanc's body of a QIDO-RS call to /tools/find, one JSON member a line: every "gggg,eeee" : "VALUE" whose tag is
// PHI-bearing gets its value replaced (JSON escapes decoded for the token). Appends the line to out; returns the
// values replaced and adds their keys to `keys`.
std::uint64_t redact_tag_members(std::string_view line, const deid::Key* key, std::string* out,
                                 std::vector<std::string>& keys);

class Redactor {
 public:
  // out == nullptr: count only (nothing is written; keys() still fills).
  Redactor(const deid::Key* key, std::string* out) : key_(key), out_(out) {}
  // Orthanc's "Arguments of QIDO-RS request: [KEY=VALUE] [KEY=VALUE]": '[' starts a key and ']' ends a value, for
  // the lines that follow until set back.
  void set_brackets(bool on) { brackets_ = on; }
  void feed(std::string_view piece);
  void end_line();  // flushes the line's last value; the next feed() starts a new line
  std::uint64_t values_redacted() const { return redacted_; }
  // PHI keys whose values were replaced in the current line (canonical names); cleared by take_keys().
  std::vector<std::string> take_keys() { return std::move(line_keys_); }

 private:
  enum class St : std::uint8_t { out, key, val };
  void byte(char c);
  void unit(std::string_view raw, int decoded, bool separator);  // one input unit: a byte or an escape
  void start_key();
  void end_value();
  void emit(std::string_view s) {
    if (out_) out_->append(s);
  }

  const deid::Key* key_;
  std::string* out_;
  bool brackets_ = false;
  St st_ = St::out;
  // Escapes ("\"" "\\" "\xHH" "\uHHHH"): collected, then handled as one unit.
  char esc_[6];
  std::size_t esc_n_ = 0;
  // The key being read (decoded) and the value being dropped.
  std::string key_text_;
  bool key_long_ = false;
  int pct_ = 0;  // percent-decoding state: 0, 1 after '%', 2 after "%H"
  char pct_raw_[2];
  const PhiKey* phi_ = nullptr;  // the key of the value being dropped
  std::string value_, value_raw_;
  bool value_long_ = false;
  std::uint64_t redacted_ = 0;
  std::vector<std::string> line_keys_;
};

}  // namespace dg::weblog
