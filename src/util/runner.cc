#include "util/runner.h"

#include "util/walk.h"

namespace dg::util {

ExpandResult expand_paths(const std::vector<std::string>& paths) {
  ExpandResult r;
  PathWalker w(paths);
  WalkItem item;
  while (w.next(item)) {
    if (item.error.empty())
      r.files.push_back(std::move(item.path));
    else
      r.errors.emplace_back(std::move(item.path), std::move(item.error));
  }
  return r;  // already sorted and without duplicates
}

}  // namespace dg::util
