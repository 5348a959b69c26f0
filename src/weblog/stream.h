// Reading a log (a file, gzip or plain, or stdin) in large blocks, and writing its redacted copy (gzip when the
// input was gzip). Memory is the caller's buffer plus zlib's state, whatever the size of the log.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace dg::weblog {

class Input {
 public:
  Input() = default;
  ~Input();
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  // path "-" is stdin. Returns "" or why not.
  std::string open(const std::string& path);
  bool gzip() const { return gzip_; }
  // Up to n bytes of the (decompressed) log; 0 at the end. Returns -1 on an error (see error()).
  long read(char* p, std::size_t n);
  const std::string& error() const { return err_; }
  std::uint64_t raw_bytes() const { return raw_; }  // bytes read from the file

 private:
  long read_raw(char* p, std::size_t n);
  int fd_ = -1;
  bool own_ = false, gzip_ = false, z_init_ = false, z_end_ = false, eof_ = false;
  z_stream z_{};
  std::string zin_;  // compressed input buffer
  std::string head_;  // bytes read while sniffing
  std::string err_;
  std::uint64_t raw_ = 0;
};

class Output {
 public:
  Output(int fd, bool gzip);
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  bool write(std::string_view s);
  bool finish();  // flushes zlib's stream; then nothing more is written
  const std::string& error() const { return err_; }

 private:
  bool put(const char* p, std::size_t n);
  int fd_;
  bool gzip_, z_init_ = false;
  z_stream z_{};
  std::string zout_;
  std::string err_;
};

}  // namespace dg::weblog
