#include "util/walk.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dg::util {

namespace {
std::string errno_text() { return std::strerror(errno); }

// The order an error item takes among files: its folder's path with a trailing '/', i.e. just before the files
// that folder would have held.
std::string order_key(const WalkItem& w) {
  if (w.error.empty() || (!w.path.empty() && w.path.back() == '/')) return w.path;
  return w.path + '/';
}
}  // namespace

bool PathWalker::less(const WalkItem& a, const WalkItem& b) {
  if (a.error.empty() && b.error.empty()) return a.path < b.path;
  return order_key(a) < order_key(b);
}

PathWalker::PathWalker(const std::vector<std::string>& paths) {
  Level named;  // files named on the command line: one sorted level of full paths
  for (const std::string& p : paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      missing_.push_back({p, errno_text()});
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      named.entries.push_back({p, false});  // a named file is taken as is (the check says what it is)
      continue;
    }
    Stream s;
    WalkItem err;
    open_dir(s, p, !p.empty() && p.back() == '/' ? p : p + '/', err);
    if (!err.path.empty()) {
      s.head = std::move(err);
      s.has_head = true;
    } else {
      s.has_head = advance(s);
    }
    streams_.push_back(std::move(s));
  }
  if (!named.entries.empty()) {
    std::sort(named.entries.begin(), named.entries.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
    Stream s;
    s.stack.push_back(std::move(named));
    s.has_head = advance(s);
    streams_.push_back(std::move(s));
  }
}

// Own traversal with readdir and d_type (no stat per entry on common filesystems), one folder at a time: an
// unreadable folder is reported and its siblings are still walked.
void PathWalker::open_dir(Stream& s, const std::string& dir, std::string prefix, WalkItem& error) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    error = {dir, errno_text()};
    return;
  }
  Level level;
  level.prefix = std::move(prefix);
  std::string path;
  errno = 0;
  while (const dirent* e = ::readdir(d)) {
    const char* name = e->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN || type == DT_LNK) {
      path.assign(level.prefix).append(name);
      struct stat st {};
      if (type == DT_UNKNOWN) {
        if (::lstat(path.c_str(), &st) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
      }
      // Follow links to files; never descend into linked folders (no loops, no escaping the tree).
      if (type == DT_LNK) type = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_REG) {
      level.entries.push_back({name, false});
    } else if (type == DT_DIR) {
      level.entries.push_back({std::string(name) + '/', true});
    }
    // FIFOs, sockets and devices inside folders are skipped: reading them could block or never end.
    errno = 0;
  }
  if (errno != 0) error = {dir, errno_text()};  // the entries read so far are still walked
  ::closedir(d);
  std::sort(level.entries.begin(), level.entries.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
  if (!level.entries.empty()) s.stack.push_back(std::move(level));
}

bool PathWalker::advance(Stream& s) {
  while (!s.stack.empty()) {
    Level& l = s.stack.back();
    if (l.pos == l.entries.size()) {
      s.stack.pop_back();
      continue;
    }
    Entry e = std::move(l.entries[l.pos++]);
    std::string path = l.prefix + e.key;
    if (!e.dir) {
      s.head = {std::move(path), {}};
      return true;
    }
    std::string dir(path, 0, path.size() - 1);
    WalkItem err;
    open_dir(s, dir, std::move(path), err);  // may grow the stack: `l` is not used after this
    if (!err.path.empty()) {
      s.head = std::move(err);
      return true;
    }
  }
  return false;
}

bool PathWalker::next(WalkItem& out) {
  if (missing_pos_ < missing_.size()) {
    out = std::move(missing_[missing_pos_++]);
    return true;
  }
  for (;;) {
    Stream* best = nullptr;
    for (Stream& s : streams_)
      if (s.has_head && (!best || less(s.head, best->head))) best = &s;
    if (!best) return false;
    out = std::move(best->head);
    best->has_head = advance(*best);
    if (out.error.empty()) {
      if (any_file_ && out.path == last_file_) continue;  // the same file under two overlapping paths
      last_file_ = out.path;
      any_file_ = true;
    }
    return true;
  }
}

}  // namespace dg::util
