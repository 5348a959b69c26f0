#include "util/runner.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dg::util {

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

ExpandResult expand_paths(const std::vector<std::string>& paths) {
  ExpandResult r;
  std::vector<std::string> dirs;
  for (const std::string& p : paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      r.errors.emplace_back(p, errno_text());
      continue;
    }
    if (S_ISDIR(st.st_mode))
      dirs.push_back(p);
    else
      r.files.push_back(p);  // a named file is taken as is (the check says what it is)
  }
  // Own traversal with readdir and d_type (no stat per entry on common filesystems), one folder at a time: an
  // unreadable folder is reported and its siblings are still walked.
  std::string path;
  while (!dirs.empty()) {
    std::string d = std::move(dirs.back());
    dirs.pop_back();
    DIR* dir = ::opendir(d.c_str());
    if (!dir) {
      r.errors.emplace_back(d, errno_text());
      continue;
    }
    const bool slash = !d.empty() && d.back() == '/';
    errno = 0;
    while (const dirent* e = ::readdir(dir)) {
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      path.assign(d);
      if (!slash) path.push_back('/');
      path.append(name);
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
      }
      if (type == DT_REG) {
        r.files.push_back(path);
      } else if (type == DT_DIR) {
        dirs.push_back(path);
      } else if (type == DT_LNK) {
        // Follow links to files; never descend into linked folders (no loops, no escaping the tree).
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) r.files.push_back(path);
      }
      // FIFOs, sockets and devices inside folders are skipped: reading them could block or never end.
    }
    if (errno != 0) r.errors.emplace_back(d, errno_text());
    ::closedir(dir);
  }
  std::sort(r.files.begin(), r.files.end());
  r.files.erase(std::unique(r.files.begin(), r.files.end()), r.files.end());
  return r;
}

}  // namespace dg::util
