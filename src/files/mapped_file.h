// Read-only view of a whole file: small files are read into a per-thread buffer (valid until the next open on
// the same thread), large ones memory-mapped so that
// pixel data the checks skip is never read from disk.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace dg::files {

class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // Returns an empty string on success, else a message naming the failed operation and errno's text.
  std::string open(const std::string& path, std::size_t map_threshold = 4u << 20);
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  // Tells the kernel the caller is done with [offset, offset+len): mapped pages may be dropped.
  void release(std::uint64_t offset, std::uint64_t len) const;

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  void* map_ = nullptr;
};

}  // namespace dg::files
