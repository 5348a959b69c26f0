#include "deid/safe_private.h"

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>

namespace dg::deid {

extern const std::string_view kSafePrivateJson;

namespace {

struct Safe {
  std::set<std::tuple<std::uint16_t, std::uint8_t, std::string>> rows;
  std::size_t count = 0;
};

int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const Safe& safe() {
  static const Safe s = [] {
    Safe out;
    const auto j = nlohmann::json::parse(kSafePrivateJson);
    for (const auto& r : j.at("rows")) {
      const std::string t = r.at("tag").get<std::string>();  // "(GGGG,xxEE)"
      if (t.size() != 11 || t[0] != '(' || t[5] != ',' || (t[6] != 'x' && t[6] != 'X')) 
        throw std::runtime_error("Table E.3.10-1: a tag the build cannot read: " + t);
      int g = 0, e = 0;
      for (int i = 1; i <= 4; ++i) g = g << 4 | hexv(t[static_cast<std::size_t>(i)]);
      for (int i = 8; i <= 9; ++i) e = e << 4 | hexv(t[static_cast<std::size_t>(i)]);
      if (g < 0 || e < 0) throw std::runtime_error("Table E.3.10-1: a tag the build cannot read: " + t);
      out.rows.emplace(static_cast<std::uint16_t>(g), static_cast<std::uint8_t>(e), r.at("private_creator").get<std::string>());
      ++out.count;
    }
    return out;
  }();
  return s;
}

}  // namespace

bool is_safe_private(std::uint16_t group, std::uint8_t offset, std::string_view creator) {
  while (!creator.empty() && (creator.back() == ' ' || creator.back() == '\0')) creator.remove_suffix(1);
  while (!creator.empty() && creator.front() == ' ') creator.remove_prefix(1);
  return safe().rows.count({group, offset, std::string(creator)}) != 0;
}

std::size_t safe_private_rows() { return safe().count; }

}  // namespace dg::deid
