#include "deid/run.h"

#include "util/shard.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "util/durable_write.h"

namespace dg::deid {

namespace fs = std::filesystem;

std::string output_relative(const FilePlan& fp, const std::string& rel) {
  if (!fp.rename) return rel;
  const auto h = hmac(fp.plan.key, "path", rel);
  return to_hex(h.data(), 16) + ".dcm";
}

unsigned shard_of(const std::string& rel, unsigned n) { return util::shard_of(rel, n); }

namespace {

std::string read_all(const std::string& path, std::vector<std::uint8_t>& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return "not a regular file";
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return std::string("cannot read: ") + std::strerror(e);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  ::close(fd);
  return {};
}

// An input large enough to be worth it is mapped, not read: the walker never touches the pages of the values it
// only passes on (Pixel Data), and those are copied from the file to the output by the kernel (Result::holes).
constexpr std::uint64_t kMapFrom = 8u << 20, kHoleFrom = 1u << 20;

struct Input {
  int fd = -1;
  std::vector<std::uint8_t> bytes;
  const std::uint8_t* map = nullptr;
  std::size_t size = 0;
  std::span<const std::uint8_t> span() const { return map ? std::span(map, size) : std::span<const std::uint8_t>(bytes); }
  ~Input() {
    if (map) ::munmap(const_cast<std::uint8_t*>(map), size);
    if (fd >= 0) ::close(fd);
  }
};

std::string open_input(const std::string& path, Input& in) {
  in.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in.fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  struct stat st {};
  if (::fstat(in.fd, &st) != 0 || !S_ISREG(st.st_mode)) return "not a regular file";
  if (static_cast<std::uint64_t>(st.st_size) >= kMapFrom) {
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, in.fd, 0);
    if (p != MAP_FAILED) {
      in.map = static_cast<const std::uint8_t*>(p);
      in.size = static_cast<std::size_t>(st.st_size);
      return {};
    }
  }
  in.bytes.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < in.bytes.size()) {
    const ssize_t n = ::pread(in.fd, in.bytes.data() + got, in.bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::string("cannot read: ") + std::strerror(errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  in.bytes.resize(got);
  return {};
}

// Copies src bytes [off, off + len) to dst's current position.
bool copy_exact(int src, int dst, std::uint64_t off, std::uint64_t len) {
  loff_t o = static_cast<loff_t>(off);
  while (len > 0) {
    const ssize_t n = ::copy_file_range(src, &o, dst, nullptr, static_cast<std::size_t>(std::min<std::uint64_t>(len, 1u << 30)), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len -= static_cast<std::uint64_t>(n);
  }
  std::vector<std::uint8_t> buf(len ? 1u << 20 : 0);
  while (len > 0) {
    const ssize_t n = ::pread(src, buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(len, buf.size())), o);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || !util::write_all(dst, buf.data(), static_cast<std::size_t>(n))) return false;
    o += n;
    len -= static_cast<std::uint64_t>(n);
  }
  return true;
}

// An earlier run's output is complete (atomic writes: it exists) and was made with this key and these options:
// it holds this run's De-identification Method value.
bool already_done(const std::string& path, const std::string& method) {
  std::vector<std::uint8_t> b;
  if (!read_all(path, b).empty() || b.size() < method.size()) return false;
  return std::search(b.begin(), b.end(), method.begin(), method.end()) != b.end();
}

}  // namespace

std::string sync_output_folders(const std::vector<std::string>& outputs, const std::string& outdir) {
  std::error_code ec;
  const fs::path stop = fs::absolute(outdir, ec).lexically_normal().parent_path();
  std::set<std::string> dirs;
  for (const std::string& o : outputs) {
    fs::path d = fs::absolute(o, ec).lexically_normal().parent_path();
    for (; !d.empty() && dirs.insert(d.string()).second && d != stop && d != d.root_path(); d = d.parent_path()) {
    }
  }
  for (const std::string& d : dirs)
    if (!util::fsync_dir(d)) return "cannot sync the output folder " + d + ": " + std::strerror(errno);
  return {};
}

nlohmann::json counts_json(const Counts& c) {
  return nlohmann::json{{"removed", c.removed}, {"emptied", c.emptied}, {"replaced", c.replaced},
                        {"cleaned", c.cleaned}, {"kept", c.kept}};
}

Record deid_file(const std::string& input, const std::string& rel, const FilePlan& fp,
                 std::vector<std::pair<std::string, std::string>>* linkage) {
  Record rec{"deid", "error", nlohmann::json{{"input", input}}, {}, {}, {}};
  rec.fields["options"] = option_names(fp.plan.options);
  rec.fields["counts"] = counts_json({});
  auto done = [&](Status s, const std::string& reason, const std::string& out = {}) {
    rec.status = status_name(s);
    rec.fields["status"] = rec.status;
    if (!out.empty()) rec.fields["output"] = out;
    if (!reason.empty()) rec.fields["reason"] = reason;
    return std::move(rec);
  };
  const std::string out_rel = output_relative(fp, rel);
  const std::string out_path = (fs::path(fp.outdir) / out_rel).string();
  const std::string q_path = (fs::path(fp.outdir) / kQuarantineDir / out_rel).string();
  std::string method;
  for (const std::string& v : method_values(fp.plan)) method += (method.empty() ? "" : "\\") + v;
  if (fp.resume) {
    if (already_done(out_path, method)) return done(Status::skipped, "already complete (--resume)", out_path);
    if (already_done(q_path, method)) return done(Status::skipped, "already complete (--resume)", q_path);
  }
  Input in;
  if (std::string e = open_input(input, in); !e.empty()) return done(Status::error, e);
  Plan plan = fp.plan;
  plan.linkage = linkage != nullptr;
  if (in.map) plan.bulk_min = kHoleFrom;
  Result r = deidentify(in.span(), plan);
  in.bytes.clear();
  in.bytes.shrink_to_fit();
  rec.fields["counts"] = counts_json(r.counts);
  if (r.status != Status::written && r.status != Status::quarantined) return done(r.status, r.reason);
  const std::string target = r.status == Status::quarantined ? q_path : out_path;
  std::error_code ec;
  fs::create_directories(fs::path(target).parent_path(), ec);
  if (ec) return done(Status::error, "cannot create the output folder: " + ec.message());
  util::WriteOptions wo;
  wo.mode = 0644;
  wo.kill_prefix = "deid";
  wo.sync_dir = !fp.defer_dir_sync;
  wo.write = [&](int fd) -> std::string {
    std::size_t at = 0;
    for (const Result::Hole& h : r.holes) {
      if (!util::write_all(fd, r.bytes.data() + at, h.at - at)) return std::string("write: ") + std::strerror(errno);
      if (!copy_exact(in.fd, fd, h.offset, h.length)) return std::string("copy: ") + std::strerror(errno);
      at = h.at;
    }
    if (!util::write_all(fd, r.bytes.data() + at, r.bytes.size() - at)) return std::string("write: ") + std::strerror(errno);
    return {};
  };
  const util::WriteResult wr = util::write_durably(target, wo);
  if (!wr.ok()) return done(Status::error, wr.error);
  if (linkage) *linkage = std::move(r.linkage);
  return done(r.status, r.reason, target);
}

}  // namespace dg::deid
