#include "files/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

namespace dg::files {

namespace {
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
std::string err(const char* what) { return std::string(what) + ": " + std::strerror(errno); }
}  // namespace

namespace {
thread_local sigjmp_buf* t_jump = nullptr;
struct sigaction g_previous_bus {};

void on_sigbus(int sig, siginfo_t*, void*) {
  if (t_jump) siglongjmp(*t_jump, 1);
  ::sigaction(SIGBUS, &g_previous_bus, nullptr);  // not ours: behave as before we were installed
  ::raise(sig);
}
}  // namespace

bool run_guarded_against_sigbus(void (*fn)(void*), void* arg) {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous_bus);
  });
  sigjmp_buf env;
  sigjmp_buf* const outer = t_jump;
  if (sigsetjmp(env, 1) != 0) {
    t_jump = outer;
    return false;
  }
  t_jump = &env;
  fn(arg);
  t_jump = outer;
  return true;
}

MappedFile::~MappedFile() {
  if (map_) ::munmap(map_, size_);
}

std::string MappedFile::open(const std::string& path, std::size_t map_threshold) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (f.fd < 0) return err("open");
  // One buffer per thread, reused across files: no allocation or zero-fill per file.
  static thread_local std::unique_ptr<std::uint8_t[]> buf;
  static thread_local std::size_t cap = 0;
  constexpr std::size_t kFirst = 64u << 10;
  if (cap < kFirst) {
    cap = kFirst;
    buf.reset(new std::uint8_t[cap]);
  }
  // Most files are small: one read that comes back short is the whole file, and saves an fstat per file.
  // A read of 0 bytes (empty file, FIFO, /dev/null) or a full buffer goes on with fstat.
  ssize_t first;
  do {
    first = ::read(f.fd, buf.get(), kFirst);
  } while (first < 0 && errno == EINTR);
  if (first < 0 && errno != EAGAIN) return err("read");
  if (first > 0 && static_cast<std::size_t>(first) < kFirst) {
    size_ = static_cast<std::size_t>(first);
    data_ = buf.get();
    return {};
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return err("stat");
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0 || first <= 0) {
    size_ = 0;
    data_ = nullptr;
    return {};
  }
  if (size_ >= map_threshold) {
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, f.fd, 0);
    if (m == MAP_FAILED) return err("mmap");
    map_ = m;
    data_ = static_cast<const std::uint8_t*>(m);
    return {};
  }
  if (cap < size_) {
    auto bigger = std::unique_ptr<std::uint8_t[]>(new std::uint8_t[size_]);
    std::memcpy(bigger.get(), buf.get(), static_cast<std::size_t>(first));
    buf = std::move(bigger);
    cap = size_;
  }
  std::size_t got = static_cast<std::size_t>(first);
  while (got < size_) {
    ssize_t n = ::read(f.fd, buf.get() + got, size_ - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return err("read");
    }
    if (n == 0) break;  // the file shrank while we read it: analyse what is there
    got += static_cast<std::size_t>(n);
  }
  size_ = got;
  data_ = buf.get();
  return {};
}

void MappedFile::release(std::uint64_t offset, std::uint64_t len) const {
  if (!map_ || len == 0) return;
  const long page = ::sysconf(_SC_PAGESIZE);
  std::uint64_t start = (offset + page - 1) / page * page;
  std::uint64_t end = (offset + len) / page * page;
  if (end > start) ::madvise(static_cast<char*>(map_) + start, end - start, MADV_DONTNEED);
}

}  // namespace dg::files
