// Durable writes ("Nothing is lost", DESIGN.md): the one place that writes or replaces an output file.
//
// The new content goes to a temporary file in the target's folder, named `.NAME.dicomguard-tmp-XXXXXX`; it is
// fsync'ed and, when asked, verified; the file being replaced can be kept first (a hard link, or a durable copy
// when a link is not possible, under a name no other run holds); then one rename() replaces the target and the
// folder is fsync'ed. A run killed at any moment leaves the old file or the new one at the target path (and at
// worst a temporary file, which is never the target and which sanitize skips). Nothing here throws: every failure
// comes back as a message, and the temporary file is removed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dg::util {

// Part of the name of every temporary file written here: `.NAME` + kTempMark + six random characters.
inline constexpr std::string_view kTempMark = ".dicomguard-tmp-";

// A folder that keeps copies of files (backups, quarantine).
struct KeepIn {
  std::string dir;                 // created, with its parents, when missing
  std::string marker;              // when not empty: a file of this name is written into dir unless it exists
  std::string marker_text;         // the marker's content
  bool allow_link = true;          // false: always copy (never share the inode; tests take the copy path this way)
  std::string what = "kept copy";  // in messages: "cannot create WHAT folder DIR: ...", "WHAT failed: ..."
  std::string verb;                // in messages: "VERB into DIR: ..." when link() fails (empty: what)
};

// Keeps `src` (an existing regular file) in keep.dir under `name` (empty: src's file name), or name.1, name.2, ...
// when that is taken. Names are claimed with link(), which fails instead of replacing a file: parallel runs never
// take or overwrite each other's names. A hard link when src and dir share a filesystem (and links are allowed),
// else a durable copy (temporary file in dir, fsync, link to a free name). The folder is fsync'ed.
// Returns "" and sets kept_path, or why nothing was kept.
std::string keep_copy(const std::string& src, const KeepIn& keep, std::string& kept_path, const std::string& name = {});

// The step of write_durably() that failed.
enum class Step { none, create, write, fsync, verify, keep, check, rename };

struct WriteResult {
  std::string error;         // "" on success, else a message naming the file
  Step failed = Step::none;  // where it failed
  int sys_errno = 0;         // errno of the failed system call (create, fsync, rename); 0 for callbacks
  std::string kept;          // where the replaced file was kept (WriteOptions::keep)
  bool ok() const { return error.empty(); }
};

struct WriteOptions {
  // Writes the content into fd (a new, empty file), streaming as it likes (write_all, copy_range, write(2)).
  // Returns "" or why it failed.
  std::function<std::string(int fd)> write;
  // Optional: checks the temporary file after its fsync (read it with pread). A message rejects it: the target
  // is left untouched and the temporary file removed.
  std::function<std::string(int fd)> verify;
  // Optional: keep the file being replaced (it must exist) in this folder before the rename; an error stops.
  std::optional<KeepIn> keep;
  // Optional: a last check just before the rename, after the kept copy (e.g. "the original did not change").
  std::function<std::string()> before_replace;
  mode_t mode = 0644;      // permissions of the new file (the umask does not apply)
  // false: the folder is not fsync'ed after the rename, the caller does it (once per folder at the end of a batch:
  // a kill leaves the same files either way; only a power loss before the caller's fsync can lose a name).
  bool sync_dir = true;
  bool keep_mode = false;  // instead: the mode, owner and group (where allowed) of the file being replaced, if any
  // Kill points for crash tests (util/failpoint.h): when not empty, PREFIX-after-write, PREFIX-after-fsync,
  // PREFIX-after-verify, PREFIX-after-backup (after the keep step, kept or not) and PREFIX-after-rename (before
  // the folder's fsync). A writer may add its own, e.g. PREFIX-mid-write.
  std::string kill_prefix;
};

// Writes `target` durably as described at the top of this file.
// Messages: "cannot create a temporary file next to TARGET: ...", "cannot write TARGET: ...", "cannot replace
// TARGET: ...", or those of the callbacks and of keep_copy() unchanged.
WriteResult write_durably(const std::string& target, const WriteOptions& opt);
// The content from a buffer, mode 0644. Returns "" or the message.
std::string write_durably(const std::string& target, std::string_view content);

// Small blocks for writers.
// Writes all n bytes (retrying short writes and EINTR). false with errno set on failure.
bool write_all(int fd, const void* p, std::size_t n);
// Copies bytes [from, EOF) of src to dst's current position (copy_file_range, else pread/write). false with errno.
bool copy_range(int src, int dst, std::uint64_t from);
// fsyncs a folder ("" is the current folder), so that a rename or link in it survives a crash.
bool fsync_dir(const std::string& dir);

}  // namespace dg::util
