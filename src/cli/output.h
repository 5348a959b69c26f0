// Output flags shared by every subcommand: text (default), --json, --sarif FILE.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "findings/sink.h"

namespace dg::cli {

struct OutputFlags {
  bool json = false;
  std::string sarif;
  std::string color = "auto";
  bool verbose = false;

  void add_to(CLI::App& app);
  // Builds the sinks: JSON Lines or text on stdout, plus SARIF when asked.
  std::unique_ptr<MultiSink> make_sinks() const;
  bool color_on_stderr() const;
};

inline constexpr const char* kVersion = "0.1.0";

}  // namespace dg::cli
