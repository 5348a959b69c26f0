// Streaming SHA-256 over a file range (OpenSSL EVP).
#pragma once

#include <cstdint>
#include <string>

namespace dg {
// Hex digest of bytes [offset, EOF) of the open file descriptor, read with pread (the fd offset is untouched).
// Returns an empty string and sets err on a read error.
std::string sha256_fd_range(int fd, std::uint64_t offset, std::string& err);
}  // namespace dg
