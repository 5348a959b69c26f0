// Counts records by status and findings by severity: the numbers a summary and an exit code are made of.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "findings/finding.h"

namespace dg {

class Tally {
 public:
  explicit Tally(std::string command, std::string noun) : command_(std::move(command)), noun_(std::move(noun)) {}
  void add(const Record& r);
  void add_error() { ++errors_; }
  bool failed(Severity fail_on) const;  // a finding at or above fail_on
  int errors() const { return errors_; }
  std::uint64_t count_all() const { return subjects_; }
  std::uint64_t count(const std::string& status) const {
    auto it = status_.find(status);
    return it == status_.end() ? 0 : it->second;
  }
  // {"type":"summary", ...}: counts by status and severity, and "subjects" (the records counted); the text sink
  // writes the closing line from these.
  nlohmann::json summary() const;

 private:
  std::string command_, noun_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::map<std::string, std::uint64_t> status_;
  std::map<Severity, std::uint64_t> sev_;
  std::uint64_t subjects_ = 0;
  int errors_ = 0;
};

}  // namespace dg
