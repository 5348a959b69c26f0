#include "files/runner.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace dg::files {

namespace fs = std::filesystem;

ExpandResult expand_paths(const std::vector<std::string>& paths) {
  ExpandResult r;
  std::vector<fs::path> dirs;
  for (const std::string& p : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      r.errors.emplace_back(p, ec ? ec.message() : "No such file or directory");
      continue;
    }
    if (fs::is_directory(st))
      dirs.emplace_back(p);
    else
      r.files.push_back(p);
  }
  // Own traversal, one folder at a time: an unreadable folder is reported and its siblings still walked.
  while (!dirs.empty()) {
    fs::path d = std::move(dirs.back());
    dirs.pop_back();
    std::error_code ec;
    fs::directory_iterator it(d, ec), end;
    if (ec) {
      r.errors.emplace_back(d.string(), ec.message());
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      const fs::directory_entry& e = *it;
      std::error_code ec2;
      if (e.is_symlink(ec2)) {
        // Follow links to files; never descend into linked folders (no loops, no escaping the tree).
        if (e.is_regular_file(ec2)) r.files.push_back(e.path().string());
      } else if (e.is_directory(ec2)) {
        dirs.push_back(e.path());
      } else if (e.is_regular_file(ec2)) {
        r.files.push_back(e.path().string());
      }
    }
    if (ec) r.errors.emplace_back(d.string(), ec.message());
  }
  std::sort(r.files.begin(), r.files.end());
  r.files.erase(std::unique(r.files.begin(), r.files.end()), r.files.end());
  return r;
}

}  // namespace dg::files
