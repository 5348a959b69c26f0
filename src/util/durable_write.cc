#include "util/durable_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "util/failpoint.h"

namespace dg::util {

namespace fs = std::filesystem;

namespace {

std::string sys_msg(const std::string& what, int err) { return what + ": " + std::strerror(err); }
std::string errno_msg(const std::string& what) { return sys_msg(what, errno); }

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// A temporary file `.NAME.dicomguard-tmp-XXXXXX` in dir, removed when it goes out of scope unless it was
// published (renamed away, which the caller says with published()) or removed already.
class TempFile {
 public:
  TempFile(const fs::path& dir, const std::string& name)
      : path_((dir / ("." + name + std::string(kTempMark) + "XXXXXX")).string()) {
    fd_ = ::mkostemp(path_.data(), O_CLOEXEC);
    owned_ = fd_ >= 0;  // after a failed mkstemp the name is nobody's business of ours
  }
  TempFile(const TempFile&) = delete;
  ~TempFile() {
    close();
    if (owned_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  bool close() {
    if (fd_ < 0) return true;
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0;
  }
  void published() { owned_ = false; }
  void remove() {
    if (owned_) ::unlink(path_.c_str());
    owned_ = false;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool owned_ = false;
};

// Gives `src` (an existing path) a new name in `dir` without ever replacing a file: name, name.1, name.2, ...
// link() fails with EEXIST instead of overwriting, so parallel workers cannot take each other's names.
// Returns the name taken, or an empty path with errno set.
fs::path link_noreplace(const std::string& src, const fs::path& dir, const std::string& name) {
  for (int i = 0; i < 100000; ++i) {
    fs::path p = i ? dir / (name + "." + std::to_string(i)) : dir / name;
    if (::link(src.c_str(), p.c_str()) == 0) return p;
    if (errno != EEXIST) return {};
  }
  errno = EEXIST;
  return {};
}

// Durable copy of `src` into `dir` under a fresh name (temporary file, fsync, link to a free name, fsync folder).
std::string copy_durably(const std::string& src, const fs::path& dir, const std::string& name, std::string& out) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) return errno_msg("open " + src);
  TempFile tmp(dir, name);
  if (tmp.fd() < 0) return errno_msg("create " + tmp.path());
  struct stat st {};
  ::fstat(in.fd, &st);
  ::fchmod(tmp.fd(), st.st_mode & 07777);
  if (!copy_range(in.fd, tmp.fd(), 0) || ::fsync(tmp.fd()) != 0) return errno_msg("copy into " + dir.string());
  fs::path dest = link_noreplace(tmp.path(), dir, name);
  if (dest.empty()) return errno_msg("name a copy in " + dir.string());
  tmp.remove();  // the copy lives on under dest
  fsync_dir(dir.string());
  out = dest.string();
  return {};
}

// Creates a folder for kept files and, when asked, puts its marker file in it.
std::string make_keep_dir(const KeepIn& k) {
  const fs::path dir(k.dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create " + k.what + " folder " + dir.string() + ": " + ec.message();
  if (k.marker.empty()) return {};
  const fs::path marker = dir / k.marker;
  if (!fs::exists(marker, ec)) {
    Fd m(::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (m.fd >= 0) write_all(m.fd, k.marker_text.data(), k.marker_text.size());
  }
  return {};
}

}  // namespace

bool write_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    if (w == 0) {
      errno = EIO;
      return false;
    }
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool copy_range(int src, int dst, std::uint64_t from) {
  off_t in = static_cast<off_t>(from);
  for (;;) {
    ssize_t n = ::copy_file_range(src, &in, dst, nullptr, 1u << 30, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) break;
    if (n < 0) return false;
    if (n == 0) return true;
  }
  std::vector<char> buf(1u << 20);
  for (;;) {
    ssize_t n = ::pread(src, buf.data(), buf.size(), in);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    if (!write_all(dst, buf.data(), static_cast<std::size_t>(n))) return false;
    in += n;
  }
}

bool fsync_dir(const std::string& dir) {
  Fd d(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return d.fd >= 0 && ::fsync(d.fd) == 0;
}

std::string keep_copy(const std::string& src, const KeepIn& keep, std::string& kept_path, const std::string& name) {
  if (std::string e = make_keep_dir(keep); !e.empty()) return e;
  const fs::path dir(keep.dir);
  const std::string n = name.empty() ? fs::path(src).filename().string() : name;
  if (keep.allow_link) {
    fs::path dest = link_noreplace(src, dir, n);
    if (!dest.empty()) {
      fsync_dir(dir.string());
      kept_path = dest.string();
      return {};
    }
    // Only "a link cannot be made here" falls back to a copy; EEXIST never does (link_noreplace went on).
    if (errno != EXDEV && errno != EPERM && errno != EMLINK)
      return errno_msg((keep.verb.empty() ? keep.what : keep.verb) + " into " + dir.string());
  }
  if (std::string e = copy_durably(src, dir, n, kept_path); !e.empty()) return keep.what + " failed: " + e;
  return {};
}

WriteResult write_durably(const std::string& target, const WriteOptions& opt) {
  WriteResult r;
  auto fail = [&r](Step step, std::string msg, int err = 0) {
    r.failed = step;
    r.error = std::move(msg);
    r.sys_errno = err;
    return r;
  };
  auto kill_point = [&opt](const char* step) {
    if (!opt.kill_prefix.empty()) failpoint((opt.kill_prefix + step).c_str());
  };

  const fs::path p(target);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  TempFile tmp(dir, p.filename().string());
  if (tmp.fd() < 0) {
    const int e = errno;
    return fail(Step::create, sys_msg("cannot create a temporary file next to " + target, e), e);
  }
  mode_t mode = opt.mode & 07777;
  struct stat old {};
  if (opt.keep_mode && ::stat(target.c_str(), &old) == 0) {
    // Owner first: chown clears set-user-ID and set-group-ID bits, which the chmod below then restores.
    if (::fchown(tmp.fd(), old.st_uid, old.st_gid) != 0) { /* keep going: not every user may chown */ }
    mode = old.st_mode & 07777;
  }
  ::fchmod(tmp.fd(), mode);

  if (opt.write)
    if (std::string e = opt.write(tmp.fd()); !e.empty()) return fail(Step::write, std::move(e));
  kill_point("-after-write");
  if (::fsync(tmp.fd()) != 0) {
    const int e = errno;
    return fail(Step::fsync, sys_msg("cannot write " + target, e), e);
  }
  kill_point("-after-fsync");
  if (opt.verify)
    if (std::string e = opt.verify(tmp.fd()); !e.empty()) return fail(Step::verify, std::move(e));
  kill_point("-after-verify");
  if (!tmp.close()) {
    const int e = errno;
    return fail(Step::fsync, sys_msg("cannot write " + target, e), e);
  }

  if (opt.keep)
    if (std::string e = keep_copy(target, *opt.keep, r.kept); !e.empty()) return fail(Step::keep, std::move(e));
  kill_point("-after-backup");
  if (opt.before_replace)
    if (std::string e = opt.before_replace(); !e.empty()) return fail(Step::check, std::move(e));

  if (::rename(tmp.path().c_str(), target.c_str()) != 0) {
    const int e = errno;
    return fail(Step::rename, sys_msg("cannot replace " + target, e), e);
  }
  tmp.published();
  kill_point("-after-rename");
  if (opt.sync_dir) fsync_dir(dir.string());
  return r;
}

std::string write_durably(const std::string& target, std::string_view content) {
  WriteOptions o;
  o.write = [&](int fd) -> std::string {
    if (write_all(fd, content.data(), content.size())) return {};
    return errno_msg("cannot write " + target);
  };
  return write_durably(target, o).error;
}

}  // namespace dg::util
