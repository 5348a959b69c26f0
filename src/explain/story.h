// The stories of `dicomguard explain`: one TOML file per topic in data/stories/, embedded at build time
// (stories_data.cc.in). The format is in docs/stories.md: id, title, summary, terms, [[source]] with the figures
// the story takes from it, and the text of each of the six audiences.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dg::explain {

struct Source {
  std::string id, cite, url;
  std::vector<std::string> figures;  // every statistic a story takes from it, as the story writes it
};

struct Story {
  std::string id, title, summary;
  std::vector<std::string> terms;     // numbers that are not statistics: ports, sections, years, CVE IDs
  std::vector<Source> sources;
  std::map<std::string, std::string> text;  // audience -> template (template.h)
};

// admin, ciso, journalist, product-manager, regulator, public: the working group's audiences, in its order.
const std::vector<std::string>& audiences();
// "the administrator", "the CISO", ...: who a story is for, in a sentence.
std::string audience_label(const std::string& audience);
// The thirteen topics, in the working group's order.
const std::vector<std::string>& topic_order();

// Reads one story (`name`: its file name without .toml, which must be its id). Checks the shape and every
// audience's template (template.h check()); throws std::invalid_argument naming the file.
Story parse_story(std::string_view toml_text, const std::string& name);

// The embedded stories, in topic_order() (others after, by id). Throws std::invalid_argument when one of them
// does not parse (a build with a broken data/stories file).
const std::vector<Story>& stories();
const Story* find_story(const std::string& id);

}  // namespace dg::explain
