// --shard i/N on every long job (scan, files, deid): one option, checked when the command line is parsed (a bad
// value is a usage error naming --shard), and the "shard" stamp every record of the run carries.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "findings/sink.h"
#include "util/shard.h"

namespace dg::cli {

CLI::Option* add_shard_option(CLI::App& sub, std::string& value, const std::string& help);
// The shard of a --shard value, nullopt when none was given. The value was checked at parse time; a value set by
// a caller that bypassed the parser and is not i/N throws std::invalid_argument with the reason.
std::optional<util::Shard> shard_flag(const std::string& value);
// Every record and the summary say which part of the job wrote them.
void stamp_shard(MultiSink& sinks, const std::string& value);

}  // namespace dg::cli
