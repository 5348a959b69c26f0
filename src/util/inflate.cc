#include "util/inflate.h"

#include <zlib.h>

#include <algorithm>

namespace dg::util {

struct Inflater::Impl {
  z_stream zs{};
  bool ok = false;
};

bool looks_like_zlib_header(std::span<const std::uint8_t> b) {
  return b.size() >= 2 && (b[0] & 0x0F) == 8 && (b[0] >> 4) <= 7 && ((b[0] << 8) | b[1]) % 31 == 0;
}

Inflater::Inflater(std::span<const std::uint8_t> in, Format f) : z_(new Impl), in_(in) {
  const bool zlib = f == Format::zlib || (f == Format::sniff && looks_like_zlib_header(in));
  z_->ok = inflateInit2(&z_->zs, zlib ? MAX_WBITS : -MAX_WBITS) == Z_OK;
  if (!z_->ok) state_ = State::corrupt;
}

Inflater::~Inflater() {
  if (z_->ok) inflateEnd(&z_->zs);
}

std::uint64_t Inflater::consumed() const { return fed_ - z_->zs.avail_in; }

std::size_t Inflater::read(std::span<std::uint8_t> out) {
  std::size_t got = 0;
  constexpr std::uint64_t kMaxChunk = 1u << 30;  // zlib counts in 32-bit units
  while (state_ == State::running && got < out.size()) {
    z_stream& zs = z_->zs;
    if (zs.avail_in == 0 && fed_ < in_.size()) {
      const std::uint64_t take = std::min<std::uint64_t>(in_.size() - fed_, kMaxChunk);
      zs.next_in = const_cast<Bytef*>(in_.data() + fed_);
      zs.avail_in = static_cast<uInt>(take);
      fed_ += take;
    }
    const std::size_t room = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - got, kMaxChunk));
    zs.next_out = out.data() + got;
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const std::size_t n = room - zs.avail_out;
    if (n) crc_ = static_cast<std::uint32_t>(::crc32(crc_, out.data() + got, static_cast<uInt>(n)));
    got += n;
    produced_ += n;
    if (rc == Z_STREAM_END) {
      state_ = State::done;
    } else if (rc == Z_OK) {
      continue;
    } else if (rc == Z_BUF_ERROR && zs.avail_out == 0) {
      continue;  // output full: the loop ends, the caller reads again
    } else if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed_ < in_.size()) {
      continue;  // more input to feed
    } else {
      state_ = State::corrupt;  // data error, dictionary needed, or the input ended before the stream did
    }
  }
  return got;
}

}  // namespace dg::util
