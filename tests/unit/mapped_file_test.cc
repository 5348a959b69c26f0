#include "files/mapped_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "files/analyze.h"

using namespace dg::files;

namespace {
std::string make_file(std::size_t size) {
  std::string path = ::testing::TempDir() + "/mapped-" + std::to_string(::getpid()) + ".bin";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  std::vector<char> chunk(1 << 20, 'x');
  for (std::size_t done = 0; done < size; done += chunk.size())
    if (::write(fd, chunk.data(), std::min(chunk.size(), size - done)) < 0) break;
  ::close(fd);
  return path;
}
}  // namespace

TEST(MappedFile, SmallFilesAreReadLargeOnesMapped) {
  const std::string small = make_file(1000);
  MappedFile a;
  ASSERT_EQ(a.open(small), "");
  EXPECT_EQ(a.bytes().size(), 1000u);
  EXPECT_FALSE(a.mapped());
  const std::string big = make_file(8u << 20);
  MappedFile b;
  ASSERT_EQ(b.open(big), "");
  EXPECT_EQ(b.bytes().size(), 8u << 20);
  EXPECT_TRUE(b.mapped());
  ::unlink(small.c_str());
  ::unlink(big.c_str());
}

TEST(MappedFile, TruncationWhileMappedIsAnErrorNotACrash) {
  const std::string path = make_file(8u << 20);
  MappedFile m;
  ASSERT_EQ(m.open(path), "");
  ASSERT_TRUE(m.mapped());
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);  // another program shrinks the file under us
  struct Ctx {
    const MappedFile* m;
    unsigned sum;
  } ctx{&m, 0};
  const bool ok = run_guarded_against_sigbus(
      [](void* p) {
        auto* c = static_cast<Ctx*>(p);
        c->sum += c->m->bytes()[6u << 20];  // past the new end of file: SIGBUS
      },
      &ctx);
  EXPECT_FALSE(ok);
  // The guard is per call: the next guarded call runs normally.
  EXPECT_TRUE(run_guarded_against_sigbus([](void* p) { static_cast<Ctx*>(p)->sum += 1; }, &ctx));
  ::unlink(path.c_str());
}

TEST(MappedFile, FifoIsNotARegularFile) {
  const std::string path = ::testing::TempDir() + "/fifo-" + std::to_string(::getpid());
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  MappedFile m;
  EXPECT_EQ(m.open(path), "not a regular file");
  ::unlink(path.c_str());
}
