#include "deid/pseudonym.h"

#include <fcntl.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "util/durable_write.h"

namespace dg::deid {

std::string load_key(const std::string& path, Key& key, std::string& warning) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open the key file " + path + ": " + std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return "the key file " + path + " is not a regular file";
  }
  if (st.st_size != 32) {
    ::close(fd);
    return "the key file " + path + " must hold exactly 32 bytes (it holds " + std::to_string(st.st_size) +
           "); make one with 'dicomguard deid --new-key FILE'";
  }
  std::size_t got = 0;
  while (got < key.size()) {
    const ssize_t n = ::read(fd, key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return "cannot read the key file " + path;
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (st.st_mode & 077) warning = "the key file " + path + " is readable by other users (chmod 600 it)";
  return {};
}

std::string new_key(const std::string& path) {
  Key k{};
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) return "no random bytes for a key";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot create the key file " + path + ": " + std::strerror(errno) + " (an existing key is never replaced)";
  ::fchmod(fd, 0600);
  const bool ok = util::write_all(fd, k.data(), k.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  OPENSSL_cleanse(k.data(), k.size());
  if (!ok) {
    ::unlink(path.c_str());
    return "cannot write the key file " + path + ": " + std::strerror(err);
  }
  const auto slash = path.rfind('/');
  util::fsync_dir(slash == std::string::npos ? "" : path.substr(0, slash == 0 ? 1 : slash));
  return {};
}

std::array<std::uint8_t, 32> hmac(const Key& key, std::string_view domain, std::string_view value) {
  std::string msg;
  msg.reserve(domain.size() + 1 + value.size());
  msg.append(domain);
  msg.push_back('\0');
  msg.append(value);
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out.data(), &len);
  return out;
}

bool is_registry_uid(std::string_view uid) { return uid.rfind("1.2.840.10008.", 0) == 0; }

std::string map_uid(const Key& key, std::string_view uid) {
  if (is_registry_uid(uid)) return std::string(uid);
  const auto h = hmac(key, "uid", uid);
  __extension__ typedef unsigned __int128 u128;
  u128 v = 0;
  for (int i = 0; i < 16; ++i) v = v << 8 | h[static_cast<std::size_t>(i)];
  std::string digits;
  if (v == 0) digits = "0";
  while (v) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return "2.25." + std::string(digits.rbegin(), digits.rend());
}

std::string map_id(const Key& key, std::string_view value, std::size_t max_len) {
  static constexpr char kB32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const auto h = hmac(key, "id", value);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::uint8_t b : h) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 5 && out.size() < 16) {
      out.push_back(kB32[(acc >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (out.size() > max_len) out.resize(max_len);
  return out;
}

int date_shift_days(const Key& key, std::string_view patient_id, int range) {
  if (range <= 0) return 0;
  const auto h = hmac(key, "date", patient_id);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | h[static_cast<std::size_t>(i)];
  // 1..range: never 0, or "Modified Dates" would leave one patient in a few thousand with every date unchanged.
  return 1 + static_cast<int>(v % static_cast<std::uint64_t>(range));
}

namespace {
// Days since 1970-01-01 of a civil date and back (H. Hinnant's algorithms).
long days_from_civil(long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long>(doe) - 719468;
}
void civil_from_days(long z, long& y, unsigned& m, unsigned& d) {
  z += 719468;
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<long>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}
bool digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}
}  // namespace

std::string shift_da(std::string_view da, int days) {
  if (da.size() != 8 || !digits(da)) return {};
  const long y = std::stol(std::string(da.substr(0, 4)));
  const unsigned m = static_cast<unsigned>(std::stoi(std::string(da.substr(4, 2))));
  const unsigned d = static_cast<unsigned>(std::stoi(std::string(da.substr(6, 2))));
  if (m < 1 || m > 12 || d < 1 || d > 31) return {};
  long ny;
  unsigned nm, nd;
  civil_from_days(days_from_civil(y, m, d) - days, ny, nm, nd);
  if (ny < 0 || ny > 9999) return {};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04ld%02u%02u", ny, nm, nd);
  return buf;
}

std::string shift_dt(std::string_view dt, int days) {
  if (dt.size() < 8) return {};
  std::string d = shift_da(dt.substr(0, 8), days);
  if (d.empty()) return {};
  return d + std::string(dt.substr(8));
}

std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(kHex[p[i] >> 4]);
    s.push_back(kHex[p[i] & 15]);
  }
  return s;
}

}  // namespace dg::deid
