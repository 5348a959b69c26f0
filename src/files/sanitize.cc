#include "files/sanitize.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "util/failpoint.h"
#include "util/sha256.h"

namespace dg::files {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t kPreamble = 128;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_msg(const std::string& what) { return what + ": " + std::strerror(errno); }

bool fsync_dir(const fs::path& dir) {
  Fd d(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return d.fd >= 0 && ::fsync(d.fd) == 0;
}

bool write_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Copies [from, EOF) of src to the current position of dst.
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

// Gives `src` (an existing path) a new name in `dir` without ever replacing a file: name, name.1, name.2, ...
// link() fails with EEXIST instead of overwriting, so parallel workers cannot take each other's names.
// Returns the name taken, or an empty path with errno set.
fs::path link_noreplace(const std::string& src, const fs::path& dir, const std::string& name) {
  for (int i = 0; i < 100000; ++i) {
    fs::path p = i ? dir / fmt::format("{}.{}", name, i) : dir / name;
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
  std::string tmpl = (dir / ("." + name + ".dicomguard-tmp-XXXXXX")).string();
  Fd o(::mkstemp(tmpl.data()));
  if (o.fd < 0) return errno_msg("create " + tmpl);
  struct stat st {};
  ::fstat(in.fd, &st);
  ::fchmod(o.fd, st.st_mode & 07777);
  if (!copy_range(in.fd, o.fd, 0) || ::fsync(o.fd) != 0) {
    std::string e = errno_msg("copy into " + dir.string());
    ::unlink(tmpl.c_str());
    return e;
  }
  fs::path dest = link_noreplace(tmpl, dir, name);
  std::string e = dest.empty() ? errno_msg("name a copy in " + dir.string()) : "";
  ::unlink(tmpl.c_str());
  if (!e.empty()) return e;
  fsync_dir(dir);
  out = dest.string();
  return {};
}

// Creates a folder for kept files and marks it, so later runs (with other flags) never sanitize what it keeps.
std::string make_kept_dir(const fs::path& dir, const char* what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fmt::format("cannot create {} folder {}: {}", what, dir.string(), ec.message());
  const fs::path marker = dir / kKeptMarker;
  if (!fs::exists(marker, ec)) {
    Fd m(::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    static constexpr char kText[] =
        "This folder holds files kept by dicomguard sanitize (originals or quarantined files).\n"
        "dicomguard sanitize never rewrites files in a folder holding this marker.\n";
    if (m.fd >= 0) write_all(m.fd, kText, sizeof kText - 1);
  }
  return {};
}

// Keeps the original: a hard link when the backup folder is on the same filesystem, else a durable copy.
std::string keep_backup(const std::string& path, const fs::path& dir, std::string& out_path) {
  if (std::string e = make_kept_dir(dir, "backup"); !e.empty()) return e;
  const std::string name = fs::path(path).filename().string();
  fs::path dest = link_noreplace(path, dir, name);
  if (!dest.empty()) {
    fsync_dir(dir);
    out_path = dest.string();
    return {};
  }
  if (errno != EXDEV && errno != EPERM && errno != EMLINK) return errno_msg("backup into " + dir.string());
  if (std::string e = copy_durably(path, dir, name, out_path); !e.empty()) return "backup failed: " + e;
  return {};
}

std::string move_to(const std::string& path, const fs::path& dir, std::string& out_path) {
  if (std::string e = make_kept_dir(dir, "quarantine"); !e.empty()) return e;
  const std::string name = fs::path(path).filename().string();
  // Link under a free name, then remove the original name: never replaces a file already in quarantine.
  fs::path dest = link_noreplace(path, dir, name);
  if (dest.empty()) {
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) return errno_msg("move into " + dir.string());
    std::string copied;
    if (std::string e = copy_durably(path, dir, name, copied); !e.empty()) return "quarantine failed: " + e;
    dest = copied;
  } else {
    fsync_dir(dir);
  }
  if (::unlink(path.c_str()) != 0) return errno_msg("quarantined a copy at " + dest.string() + " but could not remove " + path);
  fsync_dir(fs::path(path).parent_path());
  out_path = dest.string();
  return {};
}

}  // namespace

Record sanitize_file(const std::string& path, const SanitizeOptions& opt, const AnalyzeOptions& aopt) {
  Record rec{"sanitize", "error", json{{"path", path}}, {}, {}, {}};
  auto done = [&](const char* action, std::string message = {}) {
    rec.status = action;
    rec.fields["action"] = action;
    if (!message.empty()) rec.fields["message"] = message;
    return std::move(rec);
  };

  struct stat lst {};
  if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
    return done("refused", "a symbolic link: sanitize the file it points to, not the link");
  FileReport rep = analyze_file(path, aopt);
  if (rep.verdict == Verdict::error) return done("error", rep.error);
  json checks = json::array();
  for (const Finding& f : rep.findings) checks.push_back(f.check);
  rec.fields["verdict"] = verdict_name(rep.verdict);
  rec.fields["checks"] = checks;
  rec.fields["preamble_before"] = preamble_kind_name(rep.preamble.kind);

  if (!opt.quarantine_dir.empty() && rep.has_payload) {
    if (opt.dry_run) return done("would-quarantine", "executable payload found; would move it to " + opt.quarantine_dir);
    std::string dest;
    if (std::string e = move_to(path, opt.quarantine_dir, dest); !e.empty()) return done("error", e);
    rec.fields["quarantine"] = dest;
    return done("quarantined", "executable payload found; moved to " + dest);
  }
  if (!rep.part10) return done("refused", "not a DICOM Part 10 file (no DICM at offset 128): nothing to sanitize");
  if (!rep.parseable && !opt.force)
    return done("refused", "the dataset does not parse; the preamble was left alone (use --force to rewrite it anyway)");

  const PreambleKind k = rep.preamble.kind;
  if (k == PreambleKind::zero || (opt.keep_tiff && (k == PreambleKind::tiff || k == PreambleKind::bigtiff))) {
    rec.fields["preamble_after"] = rec.fields["preamble_before"];
    std::string msg = k == PreambleKind::zero ? "preamble already zero" : "TIFF preamble kept (--keep-tiff)";
    if (rep.has_payload) msg += "; an executable payload remains in the dataset (use --quarantine DIR)";
    return done("unchanged", msg);
  }
  if (opt.dry_run) return done("would-rewrite", fmt::format("would zero the {} preamble", preamble_kind_name(k)));

  // 1. Hash the part that must not change.
  Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) return done("error", errno_msg("open"));
  struct stat before {};
  if (::fstat(in.fd, &before) != 0) return done("error", errno_msg("stat"));
  std::string err;
  const std::string h_before = sha256_fd_range(in.fd, kPreamble, err);
  if (h_before.empty()) return done("error", err);

  // 2. Write the new file next to the original.
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::string tmp = (dir / ("." + p.filename().string() + ".dicomguard-tmp-XXXXXX")).string();
  Fd out(::mkstemp(tmp.data()));
  if (out.fd < 0) return done("error", errno_msg("create a temporary file in " + dir.string()));
  auto fail = [&](std::string msg) {
    ::unlink(tmp.c_str());
    return done("error", std::move(msg));
  };
  ::fchmod(out.fd, before.st_mode & 07777);
  if (::fchown(out.fd, before.st_uid, before.st_gid) != 0) { /* keep going: not every user may chown */ }
  static constexpr std::uint8_t kZero[kPreamble] = {};
  if (!write_all(out.fd, kZero, kPreamble)) return fail(errno_msg("write"));
  failpoint("sanitize-mid-write");
  if (!copy_range(in.fd, out.fd, kPreamble)) return fail(errno_msg("copy"));
  failpoint("sanitize-after-write");
  if (::fsync(out.fd) != 0) return fail(errno_msg("fsync"));
  failpoint("sanitize-after-fsync");

  // 3. Verify: same size, zero preamble, identical bytes 128..EOF.
  struct stat tst {};
  std::uint8_t head[kPreamble];
  if (::fstat(out.fd, &tst) != 0 || tst.st_size != before.st_size) return fail("verification failed: size differs");
  if (::pread(out.fd, head, kPreamble, 0) != static_cast<ssize_t>(kPreamble) || std::memcmp(head, kZero, kPreamble))
    return fail("verification failed: preamble not zero");
  const std::string h_after = sha256_fd_range(out.fd, kPreamble, err);
  if (h_after != h_before) return fail("verification failed: bytes 128..EOF differ (" + err + ")");
  failpoint("sanitize-after-verify");

  // 4. Keep the original, then make sure nobody changed it meanwhile.
  if (opt.backup) {
    std::string kept;
    const fs::path bdir = opt.backup_dir.empty() ? dir / ".dicomguard-backup" : fs::path(opt.backup_dir);
    if (std::string e = keep_backup(path, bdir, kept); !e.empty()) return fail(e);
    rec.fields["backup"] = kept;
  }
  failpoint("sanitize-after-backup");
  struct stat now {};
  if (::stat(path.c_str(), &now) != 0 || now.st_size != before.st_size || now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      now.st_mtim.tv_nsec != before.st_mtim.tv_nsec || now.st_ino != before.st_ino)
    return fail("the file changed while it was being sanitized; left as it is");

  // 5. Atomic replace.
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno_msg("rename"));
  failpoint("sanitize-after-rename");
  fsync_dir(dir);

  rec.fields["preamble_after"] = "zero";
  rec.fields["sha256_128_to_eof_before"] = h_before;
  rec.fields["sha256_128_to_eof_after"] = h_after;
  rec.fields["bytes_changed"] = rep.preamble.nonzero_bytes;
  return done("rewritten", fmt::format("{} preamble zeroed; bytes 128..EOF identical (SHA-256 {}...){}",
                                       preamble_kind_name(k), h_after.substr(0, 16),
                                       rep.has_payload ? "; an executable payload remains in the dataset (use --quarantine DIR)" : ""));
}

}  // namespace dg::files
