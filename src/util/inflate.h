// One bounded zlib inflater for untrusted compressed bytes (deflated datasets, PDF FlateDecode streams).
//
// The output is pulled in pieces into a buffer the caller owns, so nothing is ever sized from the input: a
// decompression bomb costs CPU up to the caller's cap, never memory. Never throws.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace dg::util {

class Inflater {
 public:
  enum class Format { raw, zlib, sniff };  // sniff: zlib when the data starts with a valid zlib header, else raw
  enum class State { running, done, corrupt };

  Inflater(std::span<const std::uint8_t> in, Format f);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Writes up to out.size() more bytes of output into out; returns how many. Returns 0 only at the end of the
  // stream (state() == done) or on bad or truncated input (state() == corrupt).
  std::size_t read(std::span<std::uint8_t> out);
  State state() const { return state_; }
  std::uint64_t consumed() const;  // input bytes used (when done: the length of the compressed stream)
  std::uint64_t produced() const { return produced_; }
  std::uint32_t crc32() const { return crc_; }  // CRC-32 of the output so far

 private:
  struct Impl;
  std::unique_ptr<Impl> z_;
  std::span<const std::uint8_t> in_;
  std::uint64_t fed_ = 0, produced_ = 0;
  std::uint32_t crc_ = 0;
  State state_ = State::running;
};

bool looks_like_zlib_header(std::span<const std::uint8_t> b);

}  // namespace dg::util
