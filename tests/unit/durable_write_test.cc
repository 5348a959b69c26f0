// util/durable_write: the one durable write (temporary file in the target's folder, fsync, verify, keep the old
// file, rename, folder fsync) and the kept copy by link or copy with link()-claimed names.
#include "util/durable_write.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dg::util {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void put(const fs::path& p, const std::string& text, mode_t mode = 0644) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
  fs::permissions(p, static_cast<fs::perms>(mode));
}

struct stat stat_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st;
}

// Names below dir (recursively) that are temporary files of ours.
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(kTempMark) != std::string::npos) out.push_back(e.path().string());
  return out;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

class DurableWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/dg-durable-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(DurableWrite, WritesANewFileWithMode0644AndNoTemporaryFileLeft) {
  const fs::path target = dir_ / "report.html";
  const mode_t old_umask = ::umask(077);  // the mode asked for is the mode given, whatever the umask
  const std::string err = write_durably(target.string(), "<html>hello</html>\n");
  ::umask(old_umask);
  ASSERT_EQ(err, "");
  EXPECT_EQ(slurp(target), "<html>hello</html>\n");
  EXPECT_EQ(stat_of(target).st_mode & 07777, 0644u);
  EXPECT_EQ(names_in(dir_), std::set<std::string>{"report.html"});
}

TEST_F(DurableWrite, RelativeTargetIsWrittenInTheCurrentFolder) {
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  const std::string err = write_durably("plain.md", "# title\n");
  fs::current_path(cwd);
  ASSERT_EQ(err, "");
  EXPECT_EQ(slurp(dir_ / "plain.md"), "# title\n");
  EXPECT_TRUE(temp_files(dir_).empty());
}

TEST_F(DurableWrite, ReplacesAnExistingTarget) {
  const fs::path target = dir_ / "out.sarif";
  put(target, "old content that is longer than the new one", 0600);
  const ino_t old_ino = stat_of(target).st_ino;
  ASSERT_EQ(write_durably(target.string(), "new"), "");
  EXPECT_EQ(slurp(target), "new");
  EXPECT_NE(stat_of(target).st_ino, old_ino) << "replaced by rename, not rewritten in place";
  EXPECT_EQ(stat_of(target).st_mode & 07777, 0644u) << "the mode asked for, not the old file's";
  EXPECT_TRUE(temp_files(dir_).empty());
}

TEST_F(DurableWrite, KeepModeTakesTheReplacedFilesMode) {
  const fs::path target = dir_ / "x.dcm";
  put(target, "old", 0640);
  WriteOptions o;
  o.keep_mode = true;
  o.write = [](int fd) { return write_all(fd, "new!", 4) ? std::string() : std::string("write failed"); };
  const WriteResult r = write_durably(target.string(), o);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(slurp(target), "new!");
  EXPECT_EQ(stat_of(target).st_mode & 07777, 0640u);

  // No file to take it from: the mode asked for.
  WriteOptions fresh = o;
  fresh.mode = 0600;
  ASSERT_TRUE(write_durably((dir_ / "fresh.dcm").string(), fresh).ok());
  EXPECT_EQ(stat_of(dir_ / "fresh.dcm").st_mode & 07777, 0600u);
}

TEST_F(DurableWrite, StreamsLargeContentFromAWriter) {
  const fs::path source = dir_ / "source.bin";
  std::string big(8u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  put(source, big);
  const fs::path target = dir_ / "copy.bin";
  WriteOptions o;
  o.write = [&](int fd) -> std::string {
    // A header from memory, then the rest of the source file without reading it into memory here.
    if (!write_all(fd, big.data(), 100)) return "header";
    const int in = ::open(source.c_str(), O_RDONLY);
    const bool ok = in >= 0 && copy_range(in, fd, 100);
    if (in >= 0) ::close(in);
    return ok ? "" : "copy";
  };
  ASSERT_TRUE(write_durably(target.string(), o).ok());
  EXPECT_TRUE(slurp(target) == big);
}

TEST_F(DurableWrite, TargetInAMissingFolderIsAClearError) {
  const fs::path target = dir_ / "missing" / "deeper" / "report.html";
  WriteOptions o;
  bool wrote = false;
  o.write = [&](int) {
    wrote = true;
    return std::string();
  };
  const WriteResult r = write_durably(target.string(), o);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, Step::create);
  EXPECT_EQ(r.sys_errno, ENOENT);
  EXPECT_EQ(r.error, "cannot create a temporary file next to " + target.string() + ": No such file or directory");
  EXPECT_FALSE(wrote);
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
  // The buffer form says the same.
  EXPECT_EQ(write_durably(target.string(), "x"), r.error);
}

TEST_F(DurableWrite, FailedVerifyLeavesTheTargetUntouchedAndNoTemporaryFile) {
  const fs::path target = dir_ / "x.dcm";
  put(target, "the original");
  const struct stat before = stat_of(target);
  const fs::path kept = dir_ / "kept";
  WriteOptions o;
  o.write = [](int fd) { return write_all(fd, "BROKEN", 6) ? std::string() : std::string("write"); };
  std::string seen;
  o.verify = [&](int fd) -> std::string {
    char buf[16] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf, 0);  // the verifier reads what was written and fsync'ed
    seen.assign(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    return "verification failed: preamble not zero";
  };
  o.keep = KeepIn{kept.string()};
  bool checked = false;
  o.before_replace = [&] {
    checked = true;
    return std::string();
  };
  const WriteResult r = write_durably(target.string(), o);
  EXPECT_EQ(seen, "BROKEN");
  EXPECT_EQ(r.failed, Step::verify);
  EXPECT_EQ(r.error, "verification failed: preamble not zero");
  EXPECT_EQ(r.kept, "");
  EXPECT_FALSE(checked) << "nothing after a failed verify";
  EXPECT_EQ(slurp(target), "the original");
  EXPECT_EQ(stat_of(target).st_ino, before.st_ino);
  EXPECT_EQ(names_in(dir_), std::set<std::string>{"x.dcm"}) << "no temporary file, no kept folder";
}

TEST_F(DurableWrite, FailedWriterOrLastCheckLeavesTheTargetUntouched) {
  const fs::path target = dir_ / "x.dcm";
  put(target, "the original");
  WriteOptions o;
  o.write = [](int fd) {
    write_all(fd, "half", 4);
    return std::string("copy: Input/output error");
  };
  WriteResult r = write_durably(target.string(), o);
  EXPECT_EQ(r.failed, Step::write);
  EXPECT_EQ(r.error, "copy: Input/output error");
  EXPECT_EQ(slurp(target), "the original");
  EXPECT_TRUE(temp_files(dir_).empty());

  // The last check runs after the kept copy: a refusal there keeps the copy (it names the original) and
  // leaves the target as it was.
  o.write = [](int fd) { return write_all(fd, "new", 3) ? std::string() : std::string("write"); };
  o.keep = KeepIn{(dir_ / "kept").string()};
  o.before_replace = [] { return std::string("the file changed while it was being sanitized; left as it is"); };
  r = write_durably(target.string(), o);
  EXPECT_EQ(r.failed, Step::check);
  EXPECT_EQ(r.error, "the file changed while it was being sanitized; left as it is");
  EXPECT_EQ(r.kept, (dir_ / "kept" / "x.dcm").string());
  EXPECT_EQ(slurp(target), "the original");
  EXPECT_EQ(slurp(r.kept), "the original");
  EXPECT_TRUE(temp_files(dir_).empty());
}

TEST_F(DurableWrite, KeepsTheReplacedFileAsAHardLinkWithAMarker) {
  const fs::path target = dir_ / "IM0001.dcm";
  put(target, "original bytes", 0640);
  const ino_t old_ino = stat_of(target).st_ino;
  WriteOptions o;
  o.keep_mode = true;
  o.write = [](int fd) { return write_all(fd, "sanitized", 9) ? std::string() : std::string("write"); };
  KeepIn k;
  k.dir = (dir_ / "backups" / "nested").string();  // created with its parents
  k.marker = ".kept-marker";
  k.marker_text = "kept files\n";
  o.keep = k;
  const WriteResult r = write_durably(target.string(), o);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.kept, (dir_ / "backups" / "nested" / "IM0001.dcm").string());
  EXPECT_EQ(slurp(r.kept), "original bytes");
  EXPECT_EQ(stat_of(r.kept).st_ino, old_ino) << "a hard link to the original inode";
  EXPECT_EQ(slurp(target), "sanitized");
  EXPECT_EQ(stat_of(target).st_mode & 07777, 0640u);
  EXPECT_EQ(slurp(dir_ / "backups" / "nested" / ".kept-marker"), "kept files\n");
  EXPECT_TRUE(temp_files(dir_).empty());
}

TEST_F(DurableWrite, KeepsACopyWhenLinksAreNotWanted) {
  const fs::path src = dir_ / "img.dcm";
  put(src, std::string(3u << 20, 'A') + "tail", 0604);
  KeepIn k;
  k.dir = (dir_ / "kept").string();
  k.allow_link = false;  // the path taken across filesystems
  std::string kept;
  ASSERT_EQ(keep_copy(src.string(), k, kept), "");
  EXPECT_EQ(kept, (dir_ / "kept" / "img.dcm").string());
  EXPECT_NE(stat_of(kept).st_ino, stat_of(src).st_ino) << "a copy, not a link";
  EXPECT_EQ(stat_of(kept).st_mode & 07777, 0604u);
  EXPECT_TRUE(slurp(kept) == slurp(src));
  EXPECT_EQ(names_in(dir_ / "kept"), std::set<std::string>{"img.dcm"}) << "no temporary file in the kept folder";
}

TEST_F(DurableWrite, KeepsACopyAcrossFilesystems) {
  // /dev/shm is a tmpfs on Debian: link() from the test folder gives EXDEV there and the copy path is taken.
  std::string tmpl = "/dev/shm/dg-durable-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) GTEST_SKIP() << "no writable /dev/shm";
  const fs::path other = tmpl;
  if (stat_of(other).st_dev == stat_of(dir_).st_dev) {
    fs::remove_all(other);
    GTEST_SKIP() << "/dev/shm is on the test folder's filesystem";
  }
  const fs::path target = dir_ / "x.dcm";
  put(target, "original", 0640);
  WriteOptions o;
  o.keep_mode = true;
  o.write = [](int fd) { return write_all(fd, "rewritten", 9) ? std::string() : std::string("write"); };
  o.keep = KeepIn{(other / "backup").string()};
  const WriteResult r = write_durably(target.string(), o);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.kept, (other / "backup" / "x.dcm").string());
  EXPECT_EQ(slurp(r.kept), "original");
  EXPECT_EQ(stat_of(r.kept).st_mode & 07777, 0640u);
  EXPECT_EQ(slurp(target), "rewritten");
  EXPECT_TRUE(temp_files(other).empty());
  fs::remove_all(other);
}

TEST_F(DurableWrite, KeptNamesAreClaimedNeverReplaced) {
  const fs::path kdir = dir_ / "kept";
  fs::create_directories(kdir);
  put(kdir / "img.dcm", "first");
  put(kdir / "img.dcm.1", "second");
  put(dir_ / "img.dcm", "third");
  for (bool link : {true, false}) {
    KeepIn k;
    k.dir = kdir.string();
    k.allow_link = link;
    std::string kept;
    ASSERT_EQ(keep_copy((dir_ / "img.dcm").string(), k, kept), "");
    EXPECT_EQ(kept, (kdir / (link ? "img.dcm.2" : "img.dcm.3")).string());
    EXPECT_EQ(slurp(kept), "third");
  }
  EXPECT_EQ(slurp(kdir / "img.dcm"), "first");
  EXPECT_EQ(slurp(kdir / "img.dcm.1"), "second");
  EXPECT_EQ(names_in(kdir), (std::set<std::string>{"img.dcm", "img.dcm.1", "img.dcm.2", "img.dcm.3"}));

  // Another name on request.
  KeepIn k{kdir.string()};
  std::string kept;
  ASSERT_EQ(keep_copy((dir_ / "img.dcm").string(), k, kept, "other.dcm"), "");
  EXPECT_EQ(kept, (kdir / "other.dcm").string());
}

TEST_F(DurableWrite, ParallelKeepersNeverShareAName) {
  // Same file name from many folders into one kept folder, at once: every copy gets its own name.
  constexpr int kThreads = 8, kEach = 25;
  const fs::path kdir = dir_ / "kept";
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) {
      fs::create_directories(dir_ / "in" / std::to_string(t * kEach + i));
      put(dir_ / "in" / std::to_string(t * kEach + i) / "img.dcm", "content " + std::to_string(t * kEach + i));
    }
  std::vector<std::vector<std::string>> kept(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      KeepIn k{kdir.string()};
      k.allow_link = t % 2 == 0;  // links and copies race for the same names
      for (int i = 0; i < kEach; ++i) {
        std::string path;
        errors[t] += keep_copy((dir_ / "in" / std::to_string(t * kEach + i) / "img.dcm").string(), k, path);
        kept[t].push_back(path);
      }
    });
  for (auto& th : threads) th.join();
  std::set<std::string> names, contents;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    for (const auto& p : kept[t]) {
      names.insert(p);
      contents.insert(slurp(p));
    }
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kThreads * kEach)) << "every copy names its own file";
  EXPECT_EQ(contents.size(), static_cast<std::size_t>(kThreads * kEach)) << "every original is kept";
  EXPECT_EQ(names_in(kdir).size(), static_cast<std::size_t>(kThreads * kEach));
}

TEST_F(DurableWrite, KeepFolderThatCannotBeMadeIsAnErrorNamingIt) {
  put(dir_ / "plainfile", "x");
  put(dir_ / "x.dcm", "the original");
  WriteOptions o;
  o.write = [](int fd) { return write_all(fd, "new", 3) ? std::string() : std::string("write"); };
  KeepIn k;
  k.dir = (dir_ / "plainfile" / "sub").string();
  k.what = "backup";
  o.keep = k;
  const WriteResult r = write_durably((dir_ / "x.dcm").string(), o);
  EXPECT_EQ(r.failed, Step::keep);
  EXPECT_EQ(r.error.rfind("cannot create backup folder " + k.dir + ": ", 0), 0u) << r.error;
  EXPECT_EQ(slurp(dir_ / "x.dcm"), "the original");
  EXPECT_TRUE(temp_files(dir_).empty());
}

TEST_F(DurableWrite, KillAtEachStepLeavesTheOldOrTheNewFile) {
  // The kill points of write_durably (the same steps sanitize's kill -9 tests use, under another prefix).
  const char* steps[] = {"after-write", "after-fsync", "after-verify", "after-backup", "after-rename"};
  for (const char* step : steps) {
    SCOPED_TRACE(step);
    const fs::path d = dir_ / step;
    fs::create_directories(d);
    put(d / "x.dcm", "old");
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::setenv("DICOMGUARD_KILL_AT", (std::string("unit-") + step).c_str(), 1);
      WriteOptions o;
      o.kill_prefix = "unit";
      o.write = [](int fd) { return write_all(fd, "new", 3) ? std::string() : std::string("write"); };
      o.keep = KeepIn{(d / "kept").string()};
      write_durably((d / "x.dcm").string(), o);
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    const bool renamed = std::string(step) == "after-rename";
    EXPECT_EQ(slurp(d / "x.dcm"), renamed ? "new" : "old");
    EXPECT_EQ(temp_files(d).size(), renamed ? 0u : 1u);
    const bool kept = renamed || std::string(step) == "after-backup";
    EXPECT_EQ(fs::exists(d / "kept" / "x.dcm"), kept);
    if (kept) {
      EXPECT_EQ(slurp(d / "kept" / "x.dcm"), "old");
    }
  }
}

}  // namespace
}  // namespace dg::util
