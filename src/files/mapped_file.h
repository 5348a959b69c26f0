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
  std::string open(const std::string& path, std::size_t map_threshold = 1u << 20);
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  // Tells the kernel the caller is done with [offset, offset+len): mapped pages may be dropped.
  void release(std::uint64_t offset, std::uint64_t len) const;
  bool mapped() const { return map_ != nullptr; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  void* map_ = nullptr;
};

// Runs fn on this thread so that a SIGBUS (reading a mapped file that another process truncated meanwhile)
// returns false instead of killing the process. fn's allocations are not freed when that happens: the caller
// keeps its result on the heap and abandons it (rare, bounded by one file's analysis).
bool run_guarded_against_sigbus(void (*fn)(void*), void* arg);

}  // namespace dg::files
