// What a syslog collector reads (untrusted bytes): RFC 6587 framing of a TCP or TLS stream (octet counting,
// "MSG-LEN SP SYSLOG-MSG", and non-transparent LF framing, chosen per frame by its first byte, as RFC 6587 3.4
// allows) and the RFC 5424 header of one message. Bounded: no frame longer than max_message is buffered (a longer
// one is skipped and reported), a declared length has at most 10 digits, every field its RFC maximum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::audit::syslog {

struct Frame {
  enum class Kind {
    message,     // data: one complete syslog message
    oversized,   // a frame longer than max_message: skipped (size: its declared or seen length so far)
    bad_frame,   // the stream is not RFC 6587 (a length that is not a number): the connection must be closed
  } kind = Kind::message;
  std::string data;
  std::uint64_t size = 0;
};

class Framer {
 public:
  explicit Framer(std::size_t max_message) : max_(max_message) {}
  // Appends the frames completed by these bytes to out. After a bad_frame nothing more is produced.
  void feed(std::string_view bytes, std::vector<Frame>& out);
  // At the end of the stream: an unterminated LF frame is a message (RFC 6587 leaves it to the receiver).
  void finish(std::vector<Frame>& out);
  bool partial() const { return !buf_.empty() || skip_ > 0 || state_ == State::skip_lf; }  // a frame started
  bool dead() const { return state_ == State::dead; }

 private:
  enum class State { start, length, counted, lf, skip_lf, dead } state_ = State::start;
  std::size_t max_;
  std::string buf_;
  std::uint64_t want_ = 0, skip_ = 0, skipped_total_ = 0;
  int digits_ = 0;
};

// RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
struct Message {
  int priority = -1;
  std::string timestamp, hostname, app_name, procid, msgid;  // "-" when absent (the nil value)
  std::string structured_data;
  std::string msg;  // the MSG, without a leading BOM
  bool bom = false;
};
// Parses one message; returns "" and fills out, or a problem code ("syslog.header", "syslog.pri", ...) with
// text in why.
std::string parse_5424(std::string_view in, Message& out, std::string& why);

// An RFC 3339 / xsd:dateTime time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)) as seconds since the epoch (UTC);
// nullopt when it does not parse; zone=false (and nullopt) when it has no zone.
std::optional<double> parse_time(std::string_view s, bool* had_zone = nullptr);

}  // namespace dg::audit::syslog
