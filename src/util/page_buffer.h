// Memory for big buffers that goes back to the kernel when it is freed. glibc keeps freed memory in each
// thread's arena (dicomguard tunes it to, for speed on small files), so a buffer of many MiB used once by each
// of 32 workers would otherwise stay resident 32 times. Allocations from kThreshold up are mapped pages of
// their own, unmapped on free; smaller ones come from the heap as usual.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

namespace dg::util {

inline constexpr std::size_t kPageBufferThreshold = 256u << 10;

void* page_alloc(std::size_t bytes);          // throws std::bad_alloc
void page_free(void* p, std::size_t bytes) noexcept;

template <class T>
struct PageAllocator {
  using value_type = T;
  PageAllocator() = default;
  template <class U>
  PageAllocator(const PageAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(page_alloc(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { page_free(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PageAllocator<U>&) const { return true; }
};

using PageBytes = std::vector<std::uint8_t, PageAllocator<std::uint8_t>>;
using PageString = std::basic_string<char, std::char_traits<char>, PageAllocator<char>>;

}  // namespace dg::util
