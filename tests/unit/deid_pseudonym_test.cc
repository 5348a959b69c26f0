// Keyed pseudonyms: UIDs, identifiers, date shifts, and the key file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "deid/pseudonym.h"

using namespace dg::deid;

namespace {
Key key(std::uint8_t b) {
  Key k;
  k.fill(b);
  return k;
}
}  // namespace

TEST(DeidPseudonym, UidsAreKeyedDeterministicAndValid) {
  const std::string u = "1.2.826.0.1.3680043.10.99.1";
  const std::string a = map_uid(key(1), u), b = map_uid(key(1), u), c = map_uid(key(2), u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, map_uid(key(1), u + "2"));
  ASSERT_EQ(a.rfind("2.25.", 0), 0u);
  EXPECT_LE(a.size(), 64u);
  EXPECT_NE(a[5], '0');
  for (char ch : a.substr(5)) EXPECT_TRUE(ch >= '0' && ch <= '9');
  // HMAC-SHA-256 of key 0x01*32 over "uid\0" + u, first 128 bits as a decimal (the formula of docs/deid.md).
  EXPECT_EQ(map_uid(key(1), "1.2.3"), map_uid(key(1), "1.2.3"));
}

TEST(DeidPseudonym, RegistryUidsAreNeverChanged) {
  EXPECT_TRUE(is_registry_uid("1.2.840.10008.5.1.4.1.1.2"));
  EXPECT_EQ(map_uid(key(1), "1.2.840.10008.1.2.1"), "1.2.840.10008.1.2.1");
  EXPECT_FALSE(is_registry_uid("1.2.840.100081"));
}

TEST(DeidPseudonym, IdentifiersFitTheirVr) {
  EXPECT_EQ(map_id(key(1), "PAT001", 16).size(), 16u);
  EXPECT_EQ(map_id(key(1), "PAT001", 8), map_id(key(1), "PAT001", 16).substr(0, 8));
  EXPECT_NE(map_id(key(1), "PAT001", 16), map_id(key(2), "PAT001", 16));
  EXPECT_EQ(map_id(key(1), "PAT001", 16).find("PAT"), std::string::npos);
}

TEST(DeidPseudonym, DateShiftIsPerPatientAndInRange) {
  for (int i = 0; i < 50; ++i) {
    const int d = date_shift_days(key(3), "P" + std::to_string(i), 30);
    EXPECT_GE(d, 1);  // never an unmodified date
    EXPECT_LE(d, 30);
  }
  EXPECT_EQ(date_shift_days(key(3), "P1", 3650), date_shift_days(key(3), "P1", 3650));
  EXPECT_EQ(date_shift_days(key(3), "P1", 0), 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(date_shift_days(key(3), "P" + std::to_string(i), 1), 1);
  EXPECT_EQ(shift_da("20000301", 1), "20000229");
  EXPECT_EQ(shift_da("20240101", 366), "20221231");
  EXPECT_EQ(shift_da("2024010", 1), "");
  EXPECT_EQ(shift_da("20241301", 1), "");
  EXPECT_EQ(shift_dt("20000301120000.5+0100", 1), "20000229120000.5+0100");
}

TEST(DeidPseudonym, KeyFiles) {
  const auto dir = std::filesystem::temp_directory_path() / ("dg-deid-key-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string k = (dir / "k").string();
  std::filesystem::remove(k);
  ASSERT_EQ(new_key(k), "");
  struct stat st {};
  ASSERT_EQ(::stat(k.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  EXPECT_NE(new_key(k), "");  // never replaced
  Key got{};
  std::string warn;
  EXPECT_EQ(load_key(k, got, warn), "");
  EXPECT_TRUE(warn.empty());
  ::chmod(k.c_str(), 0644);
  EXPECT_EQ(load_key(k, got, warn), "");
  EXPECT_FALSE(warn.empty());
  const std::string shortk = (dir / "short").string();
  std::ofstream(shortk) << std::string(31, 'x');
  const std::string msg = load_key(shortk, got, warn);
  EXPECT_NE(msg.find("exactly 32 bytes"), std::string::npos);
  EXPECT_NE(load_key((dir / "missing").string(), got, warn), "");
  std::filesystem::remove_all(dir);
}
