// A rendered story as a handout: plain text (wrapped at 78 columns), Markdown, or one small self-contained HTML
// page (escaped, no scripts, no external resources); every story ends with its sources. And the working
// group's communications matrix: every topic by the six audiences.
#pragma once

#include <string>
#include <vector>

#include "explain/story.h"
#include "explain/template.h"

namespace dg::explain {

enum class Format { text, md, html };

inline constexpr std::size_t kTextWidth = 78;

// The story for one audience, rendered with `values`, in `format`. Throws TemplateError (a story that passed
// parse_story() does not).
std::string format_story(const Story& s, const std::string& audience, const Values& values, Format format);

// Every story's id, title and summary, and for each audience the words of its story (rendered with `values`).
std::string format_matrix(const std::vector<Story>& all, const Values& values, Format format);

// Words of a rendered text (runs of non-space characters).
std::size_t word_count(const std::string& text);

}  // namespace dg::explain
