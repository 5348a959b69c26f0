#include "weblog/stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/durable_write.h"

namespace dg::weblog {

namespace {
constexpr std::size_t kZBlock = 1 << 18;
}

Input::~Input() {
  if (z_init_) inflateEnd(&z_);
  if (own_ && fd_ >= 0) ::close(fd_);
}

std::string Input::open(const std::string& path) {
  if (path == "-") {
    fd_ = 0;
  } else {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return "cannot open " + path + ": " + std::strerror(errno);
    own_ = true;
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  // Sniff the gzip magic (1f 8b) without seeking (stdin may be a pipe).
  char h[2];
  std::size_t got = 0;
  while (got < 2) {
    const ssize_t n = ::read(fd_, h + got, 2 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "cannot read " + path + ": " + std::strerror(errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  raw_ += got;
  head_.assign(h, got);
  gzip_ = got == 2 && static_cast<unsigned char>(h[0]) == 0x1f && static_cast<unsigned char>(h[1]) == 0x8b;
  if (gzip_) {
    if (inflateInit2(&z_, 15 + 16) != Z_OK) return "zlib: cannot start";
    z_init_ = true;
    zin_.resize(kZBlock);
  }
  return {};
}

long Input::read_raw(char* p, std::size_t n) {
  if (!head_.empty()) {
    const std::size_t k = std::min(n, head_.size());
    std::memcpy(p, head_.data(), k);
    head_.erase(0, k);
    return static_cast<long>(k);
  }
  for (;;) {
    const ssize_t r = ::read(fd_, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      err_ = std::string("read: ") + std::strerror(errno);
      return -1;
    }
    raw_ += static_cast<std::uint64_t>(r);
    return static_cast<long>(r);
  }
}

long Input::read(char* p, std::size_t n) {
  if (!gzip_) return read_raw(p, n);
  z_.next_out = reinterpret_cast<Bytef*>(p);
  z_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
  while (z_.avail_out == static_cast<uInt>(std::min<std::size_t>(n, 1u << 30))) {
    if (z_.avail_in == 0 && !eof_) {
      const long r = read_raw(zin_.data(), zin_.size());
      if (r < 0) return -1;
      if (r == 0) eof_ = true;
      z_.next_in = reinterpret_cast<Bytef*>(zin_.data());
      z_.avail_in = static_cast<uInt>(r);
    }
    if (z_end_) {
      // Another gzip member follows (concatenated .gz files, as logrotate's delaycompress can make)?
      if (z_.avail_in == 0) {
        if (eof_) break;
        continue;
      }
      if (inflateReset(&z_) != Z_OK) {
        err_ = "gzip: cannot restart";
        return -1;
      }
      z_end_ = false;
    }
    if (z_.avail_in == 0 && eof_) {
      err_ = "gzip: truncated stream";
      return -1;
    }
    const int rc = inflate(&z_, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      z_end_ = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      err_ = std::string("gzip: corrupt data") + (z_.msg ? std::string(" (") + z_.msg + ")" : "");
      return -1;
    }
  }
  return static_cast<long>(std::min<std::size_t>(n, 1u << 30) - z_.avail_out);
}

Output::Output(int fd, bool gzip) : fd_(fd), gzip_(gzip) {
  if (gzip_) {
    if (deflateInit2(&z_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK) z_init_ = true;
    else err_ = "zlib: cannot start";
    zout_.resize(kZBlock);
  }
}

Output::~Output() {
  if (z_init_) deflateEnd(&z_);
}

bool Output::put(const char* p, std::size_t n) {
  if (!util::write_all(fd_, p, n)) {
    err_ = std::string("write: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool Output::write(std::string_view s) {
  if (!err_.empty()) return false;
  if (!gzip_) return put(s.data(), s.size());
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z_.avail_in = static_cast<uInt>(s.size());
  while (z_.avail_in > 0) {
    z_.next_out = reinterpret_cast<Bytef*>(zout_.data());
    z_.avail_out = static_cast<uInt>(zout_.size());
    if (deflate(&z_, Z_NO_FLUSH) == Z_STREAM_ERROR) {
      err_ = "zlib: deflate failed";
      return false;
    }
    if (!put(zout_.data(), zout_.size() - z_.avail_out)) return false;
  }
  return true;
}

bool Output::finish() {
  if (!err_.empty()) return false;
  if (!gzip_) return true;
  int rc = Z_OK;
  do {
    z_.next_out = reinterpret_cast<Bytef*>(zout_.data());
    z_.avail_out = static_cast<uInt>(zout_.size());
    rc = deflate(&z_, Z_FINISH);
    if (rc == Z_STREAM_ERROR) {
      err_ = "zlib: deflate failed";
      return false;
    }
    if (!put(zout_.data(), zout_.size() - z_.avail_out)) return false;
  } while (rc != Z_STREAM_END);
  return true;
}

}  // namespace dg::weblog
