// The tiny template language of the stories (data/stories/*.toml, docs: docs/stories.md): values and plurals
// measured from results, and sections shown with or without results. Sans I/O: text in, text out.
//
//   {{name}}              a measured count ("23"), or a host list (admin only)
//   {{name|one|many}}     the word for that count, without the number
//   {{#results}}..{{/results}}  only when results were given; {{^results}}..{{/results}} only without
//   {{#name}}..{{/name}}  only with results and name > 0; {{^name}}..{{/name}} only with results and name == 0
//
// Sections nest and may span paragraphs; a line holding nothing but a section tag disappears with its newline.
// Anything else between {{ and }} is an error, as are unbalanced sections, a value where there may be no results,
// and a host list in a story for anyone but the administrator.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dg::explain {

// What the results say, by the names a story may use (values.h computes them).
struct Values {
  bool has_results = false;
  std::map<std::string, std::uint64_t> counts;
  std::map<std::string, std::vector<std::string>> lists;  // hosts_list, query_open_hosts, plaintext_hosts
};

// The count names and the host-list names, in the order docs/stories.md lists them.
const std::vector<std::string>& count_names();
const std::vector<std::string>& list_names();

struct TemplateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A host list shows at most this many entries, then "and N more".
inline constexpr std::size_t kListShown = 12;

// The text for `values`, for the administrator (host lists allowed) or another audience. Every rule above is
// checked whatever the values, so a story that renders without results also renders with them. Throws
// TemplateError ("line 4: unknown name {{servces}}").
std::string render(std::string_view text, const Values& values, bool admin);

// Checks the text as render() would; returns the error, or "".
std::string check(std::string_view text, bool admin);

}  // namespace dg::explain
