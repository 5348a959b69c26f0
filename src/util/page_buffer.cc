#include "util/page_buffer.h"

#include <cstdlib>

namespace dg::util {

void* page_alloc(std::size_t bytes) {
  if (bytes < kPageBufferThreshold) {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void page_free(void* p, std::size_t bytes) noexcept {
  if (!p) return;
  if (bytes < kPageBufferThreshold) std::free(p);
  else ::munmap(p, bytes);
}

}  // namespace dg::util
