#include "cli/per_file.h"

#include "util/walk.h"

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
  // Streamed: paths are walked lazily in sorted order and only a bounded window is in flight, so memory stays
  // flat whatever the size of the tree.
  util::PathWalker walker(paths);
  const std::string type = pf.command == "files" ? "file" : pf.command;
  const auto mine = [&](const std::string& p) { return pf.shard.contains(shard_key(p, paths)); };
  const std::function<bool(util::WalkItem&)> next = [&](util::WalkItem& item) {
    while (walker.next(item)) {
      if (pf.shard.active() && !mine(item.path)) continue;
      if (item.error.empty() && pf.skip && pf.skip(item.path)) continue;
      return true;
    }
    return false;
  };
  util::parallel_stream<util::WalkItem, Record>(
      pf.parallel, next,
      [&](util::WalkItem& item) {
        if (!item.error.empty())
          return Record{type, "error", {{"path", item.path}, {pf.status_field, "error"}, {pf.error_field, item.error}},
                        {}, {}, {}};
        Record r = pf.job(item.path);
        sinks.prepare(r);  // format on this worker thread; the ordered output only writes
        if (!r.rendered.empty() && !sinks.reads_prepared_fields()) {
          r.fields = nlohmann::json();  // freed here, where it was allocated
          r.notes.clear();
        }
        return r;
      },
      [&](Record&& r) {
        tally.add(r);
        sinks.record(r);
      });
  return sinks.end(tally.summary());
}

}  // namespace dg::cli
