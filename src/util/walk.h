// A lazy walk over files and folders: regular files under each path, produced one at a time in byte-sorted
// order of their full path (the order a sort of all paths would give), with memory bounded by the folder depth
// and the largest single folder rather than by the tree.
#pragma once

#include <string>
#include <vector>

namespace dg::util {

struct WalkItem {
  std::string path;
  std::string error;  // empty: a file to check; otherwise why `path` could not be read (missing, unreadable folder)
};

class PathWalker {
 public:
  // Missing paths come first, in the order given; then files and unreadable folders, merged over all paths in
  // sorted order (an unreadable folder where its files would have been). A path found twice is produced once.
  // Symbolic links to files are followed; links to folders are not descended (no loops). FIFOs, sockets and
  // devices inside folders are skipped (a named one is produced: the check reports what it is).
  explicit PathWalker(const std::vector<std::string>& paths);
  // The next item, or false at the end.
  bool next(WalkItem& out);

 private:
  struct Entry {
    std::string key;  // name, with a trailing '/' for a folder: sorting keys sorts the full paths
    bool dir;
  };
  struct Level {
    std::string prefix;  // folder path with its trailing '/'
    std::vector<Entry> entries;
    std::size_t pos = 0;
  };
  // One PATH argument that is a folder (or all named files together, as one sorted level).
  struct Stream {
    std::vector<Level> stack;
    WalkItem head;
    bool has_head = false;
  };
  // Reads folder `dir` (its entries sorted) onto the stack under `prefix`; a failure is put in `error`.
  static void open_dir(Stream& s, const std::string& dir, std::string prefix, WalkItem& error);
  static bool advance(Stream& s);
  static bool less(const WalkItem& a, const WalkItem& b);

  std::vector<WalkItem> missing_;
  std::size_t missing_pos_ = 0;
  std::vector<Stream> streams_;
  std::string last_file_;
  bool any_file_ = false;
};

}  // namespace dg::util
