#include "cli/per_file.h"

namespace dg::cli {

std::string shard_key(const std::string& path, const std::vector<std::string>& roots) {
  std::size_t best = std::string::npos;
  for (const std::string& r : roots) {
    if (r.empty() || r.size() >= path.size() || path.compare(0, r.size(), r) != 0) continue;
    const std::size_t cut = r.back() == '/' ? r.size() : path[r.size()] == '/' ? r.size() + 1 : std::string::npos;
    if (cut != std::string::npos && cut < path.size() && (best == std::string::npos || cut > best)) best = cut;
  }
  if (best != std::string::npos) return path.substr(best);
  const auto slash = path.find_last_of('/');  // a file named on the command line (or a root itself)
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string run_per_file(const std::vector<std::string>& paths, const PerFile& pf, Sink& sinks, Tally& tally) {
  util::ExpandResult ex = util::expand_paths(paths);
  const std::string type = pf.command == "files" ? "file" : pf.command;
  const auto mine = [&](const std::string& p) { return pf.shard.contains(shard_key(p, paths)); };
  for (const auto& [path, msg] : ex.errors) {
    if (pf.shard.active() && !mine(path)) continue;
    Record r{type, "error", {{"path", path}, {pf.status_field, "error"}, {pf.error_field, msg}}, {}, {}, {}};
    tally.add(r);
    sinks.record(r);
  }
  std::vector<std::string> todo;
  todo.reserve(ex.files.size());
  for (auto& p : ex.files)
    if ((!pf.skip || !pf.skip(p)) && (!pf.shard.active() || mine(p))) todo.push_back(std::move(p));
  util::parallel_ordered<Record>(
      todo.size(), pf.parallel,
      [&](std::size_t i) {
        Record r = pf.job(todo[i]);
        sinks.prepare(r);  // format on this worker thread; the ordered output only writes
        return r;
      },
      [&](std::size_t, Record&& r) {
        tally.add(r);
        sinks.record(r);
      });
  return sinks.end(tally.summary());
}

}  // namespace dg::cli
