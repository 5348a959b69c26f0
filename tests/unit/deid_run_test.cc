// One input file into the output tree: paths, quarantine, resume, rename, shards and the record.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "deid/run.h"
#include "deid_support.h"

using namespace dg::deid;
using namespace dg::dicom;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path p = fs::temp_directory_path() / ("dg-deid-run-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(p);
    fs::create_directories(p / "in" / "sub");
  }
  ~TempDir() { fs::remove_all(p); }
};

void write(const fs::path& f, const dgtest::deid::Bytes& b) {
  std::ofstream(f, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<long>(b.size()));
}
dgtest::deid::Bytes slurp(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

dgtest::deid::Bytes ct(const char* modality = "CT") {
  return dgtest::deid::file_of([modality](ElementWriter& w) {
    w.element(tag(8, 0x18), kUI, "1.2.826.0.1.3680043.10.99.1");
    w.element(tag(8, 0x60), kCS, modality);
    w.element(tag(0x10, 0x10), vr("PN"), "SECRET^NAME");
    w.element(tag(0x10, 0x20), kLO, "SECRETID");
  });
}

}  // namespace

TEST(DeidRun, WritesQuarantinesAndResumes) {
  TempDir t;
  write(t.p / "in" / "sub" / "a.dcm", ct());
  write(t.p / "in" / "us.dcm", ct("US"));
  write(t.p / "in" / "notes.txt", {'h', 'i'});
  FilePlan fp;
  fp.plan = dgtest::deid::plan();
  fp.outdir = (t.p / "out").string();
  dg::Record r = deid_file((t.p / "in" / "sub" / "a.dcm").string(), "sub/a.dcm", fp);
  EXPECT_EQ(r.status, "written");
  EXPECT_EQ(r.fields["output"], (t.p / "out" / "sub" / "a.dcm").string());
  const auto out = slurp(t.p / "out" / "sub" / "a.dcm");
  EXPECT_FALSE(dgtest::deid::contains(out, "SECRET"));
  EXPECT_EQ(r.fields.dump().find("SECRET"), std::string::npos);
  EXPECT_TRUE(r.fields["counts"].is_object());

  r = deid_file((t.p / "in" / "us.dcm").string(), "us.dcm", fp);
  EXPECT_EQ(r.status, "quarantined");
  EXPECT_TRUE(fs::exists(t.p / "out" / ".quarantine" / "us.dcm"));
  EXPECT_FALSE(fs::exists(t.p / "out" / "us.dcm"));

  r = deid_file((t.p / "in" / "notes.txt").string(), "notes.txt", fp);
  EXPECT_EQ(r.status, "skipped");
  EXPECT_FALSE(fs::exists(t.p / "out" / "notes.txt"));

  fp.resume = true;
  r = deid_file((t.p / "in" / "sub" / "a.dcm").string(), "sub/a.dcm", fp);
  EXPECT_EQ(r.status, "skipped");
  fp.plan.options.retain_uids = true;  // other options: redone
  r = deid_file((t.p / "in" / "sub" / "a.dcm").string(), "sub/a.dcm", fp);
  EXPECT_EQ(r.status, "written");
  // Inputs untouched.
  EXPECT_EQ(slurp(t.p / "in" / "sub" / "a.dcm"), ct());
}

TEST(DeidRun, RenameAndShards) {
  FilePlan fp;
  fp.plan = dgtest::deid::plan();
  fp.rename = true;
  const std::string a = output_relative(fp, "PATIENT SMITH/ct1.dcm");
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a.find("SMITH"), std::string::npos);
  EXPECT_EQ(a, output_relative(fp, "PATIENT SMITH/ct1.dcm"));
  fp.rename = false;
  EXPECT_EQ(output_relative(fp, "x/y.dcm"), "x/y.dcm");
  int counts[3] = {};
  for (int i = 0; i < 300; ++i) {
    const unsigned s = shard_of("f" + std::to_string(i), 3);
    ASSERT_LT(s, 3u);
    ++counts[s];
    EXPECT_EQ(s, shard_of("f" + std::to_string(i), 3));
  }
  for (int c : counts) EXPECT_GT(c, 50);
  EXPECT_EQ(shard_of("anything", 1), 0u);
}

// A large input is mapped and its Pixel Data copied by the kernel: the output is byte for byte the one made in
// memory.
TEST(DeidRun, LargeFilesCopyBulkValuesFromTheInput) {
  TempDir t;
  std::vector<std::uint8_t> px(9u << 20);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i * 7 + 3);
  for (const std::string ts : {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"}) {
    const auto in = dgtest::deid::file_of(
        [&](ElementWriter& w) {
          w.element(tag(8, 0x18), kUI, "1.2.826.0.1.3680043.10.99.1");
          w.element(tag(8, 0x60), kCS, "CT");
          w.element(tag(0x10, 0x20), kLO, "SECRETID");
          w.element(kPixelData, kOW, std::span<const std::uint8_t>(px));
          w.element(tag(0xFFFC, 0xFFFC), kOB, std::span<const std::uint8_t>(std::vector<std::uint8_t>(4, 0)));
        },
        ts);
    write(t.p / "in" / "big.dcm", in);
    FilePlan fp;
    fp.plan = dgtest::deid::plan();
    fp.outdir = (t.p / "out").string();
    const dg::Record r = deid_file((t.p / "in" / "big.dcm").string(), "big.dcm", fp);
    ASSERT_EQ(r.status, "written") << ts;
    const auto want = deidentify(in, fp.plan);
    ASSERT_TRUE(want.holes.empty());
    EXPECT_TRUE(slurp(t.p / "out" / "big.dcm") == want.bytes) << ts;
  }
}
