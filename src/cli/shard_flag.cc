#include "cli/shard_flag.h"

#include <stdexcept>

namespace dg::cli {

CLI::Option* add_shard_option(CLI::App& sub, std::string& value, const std::string& help) {
  return sub.add_option("--shard", value, help)
      ->check(CLI::Validator(
          [](std::string& s) {
            std::string e;
            return util::parse_shard(s, e) ? std::string() : e;
          },
          "i/N"));
}

std::optional<util::Shard> shard_flag(const std::string& value) {
  if (value.empty()) return std::nullopt;
  std::string e;
  auto s = util::parse_shard(value, e);
  if (!s) throw std::invalid_argument(e);
  return s;
}

void stamp_shard(MultiSink& sinks, const std::string& value) {
  if (const auto s = shard_flag(value)) sinks.set_stamp({{"shard", s->str()}});
}

}  // namespace dg::cli
