#include "cli/per_file.h"

namespace dg::cli {

std::string run_per_file(const std::vector<std::string>& paths, const PerFile& pf, Sink& sinks, Tally& tally) {
  util::ExpandResult ex = util::expand_paths(paths);
  const std::string type = pf.command == "files" ? "file" : pf.command;
  for (const auto& [path, msg] : ex.errors) {
    Record r{type, "error", {{"path", path}, {pf.status_field, "error"}, {pf.error_field, msg}}, {}, {}, {}};
    tally.add(r);
    sinks.record(r);
  }
  std::vector<std::string> todo;
  todo.reserve(ex.files.size());
  for (auto& p : ex.files)
    if (!pf.skip || !pf.skip(p)) todo.push_back(std::move(p));
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
