#include "files/sanitize.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "util/durable_write.h"
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

// Every backup and quarantine folder holds the marker, so later runs (with other flags) never sanitize what it keeps.
util::KeepIn kept_dir(const fs::path& dir, const char* what, const char* verb) {
  util::KeepIn k;
  k.dir = dir.string();
  k.marker = kKeptMarker;
  k.marker_text =
      "This folder holds files kept by dicomguard sanitize (originals or quarantined files).\n"
      "dicomguard sanitize never rewrites files in a folder holding this marker.\n";
  k.what = what;
  k.verb = verb;
  return k;
}

std::string move_to(const std::string& path, const fs::path& dir, std::string& out_path) {
  // Kept under a free name (link, or a durable copy across filesystems), then the original name is removed: never
  // replaces a file already in quarantine.
  std::string dest;
  if (std::string e = util::keep_copy(path, kept_dir(dir, "quarantine", "move"), dest); !e.empty()) return e;
  if (::unlink(path.c_str()) != 0) return errno_msg("quarantined a copy at " + dest + " but could not remove " + path);
  util::fsync_dir(fs::path(path).parent_path().string());
  out_path = dest;
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

  // 2. Write the new file next to the original, 3. verify it, 4. keep the original, 5. replace it atomically.
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  static constexpr std::uint8_t kZero[kPreamble] = {};
  std::string h_after;
  util::WriteOptions w;
  w.keep_mode = true;
  w.kill_prefix = "sanitize";
  w.write = [&](int fd) -> std::string {
    if (!util::write_all(fd, kZero, kPreamble)) return errno_msg("write");
    failpoint("sanitize-mid-write");
    if (!util::copy_range(in.fd, fd, kPreamble)) return errno_msg("copy");
    return {};
  };
  // Same size, zero preamble, identical bytes 128..EOF.
  w.verify = [&](int fd) -> std::string {
    struct stat tst {};
    std::uint8_t head[kPreamble];
    if (::fstat(fd, &tst) != 0 || tst.st_size != before.st_size) return "verification failed: size differs";
    if (::pread(fd, head, kPreamble, 0) != static_cast<ssize_t>(kPreamble) || std::memcmp(head, kZero, kPreamble))
      return "verification failed: preamble not zero";
    h_after = sha256_fd_range(fd, kPreamble, err);
    if (h_after != h_before) return "verification failed: bytes 128..EOF differ (" + err + ")";
    return {};
  };
  if (opt.backup)
    w.keep = kept_dir(opt.backup_dir.empty() ? dir / ".dicomguard-backup" : fs::path(opt.backup_dir), "backup", "backup");
  // Nobody changed the original meanwhile (checked after it was kept).
  w.before_replace = [&]() -> std::string {
    struct stat now {};
    if (::stat(path.c_str(), &now) != 0 || now.st_size != before.st_size || now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != before.st_mtim.tv_nsec || now.st_ino != before.st_ino)
      return "the file changed while it was being sanitized; left as it is";
    return {};
  };
  const util::WriteResult wr = util::write_durably(path, w);
  if (!wr.kept.empty()) rec.fields["backup"] = wr.kept;
  if (!wr.ok()) {
    switch (wr.failed) {  // the wording sanitize has always used for these steps
      case util::Step::create:
        return done("error", "create a temporary file in " + dir.string() + ": " + std::strerror(wr.sys_errno));
      case util::Step::fsync: return done("error", std::string("fsync: ") + std::strerror(wr.sys_errno));
      case util::Step::rename: return done("error", std::string("rename: ") + std::strerror(wr.sys_errno));
      default: return done("error", wr.error);
    }
  }

  rec.fields["preamble_after"] = "zero";
  rec.fields["sha256_128_to_eof_before"] = h_before;
  rec.fields["sha256_128_to_eof_after"] = h_after;
  rec.fields["bytes_changed"] = rep.preamble.nonzero_bytes;
  return done("rewritten", fmt::format("{} preamble zeroed; bytes 128..EOF identical (SHA-256 {}...){}",
                                       preamble_kind_name(k), h_after.substr(0, 16),
                                       rep.has_payload ? "; an executable payload remains in the dataset (use --quarantine DIR)" : ""));
}

}  // namespace dg::files
