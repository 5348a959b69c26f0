#include "explain/format.h"

#include <algorithm>

#include "util/html_escape.h"

namespace dg::explain {

namespace {

// A paragraph, or a list of items ("- " lines).
struct Block {
  bool list = false;
  std::vector<std::string> items;  // a paragraph: one item, its lines joined
};

std::vector<Block> blocks(const std::string& body) {
  std::vector<Block> out;
  bool fresh = true;  // after a blank line
  std::size_t from = 0;
  while (from <= body.size()) {
    std::size_t nl = body.find('\n', from);
    if (nl == std::string::npos) nl = body.size();
    std::string line = body.substr(from, nl - from);
    from = nl + 1;
    const std::size_t lead = line.find_first_not_of(" \t");
    if (lead == std::string::npos) {
      fresh = true;
      continue;
    }
    line = line.substr(lead);
    const bool item = line.rfind("- ", 0) == 0;
    if (item) {
      if (fresh || out.empty() || !out.back().list) out.push_back({true, {}});
      out.back().items.push_back(line.substr(2));
    } else if (fresh || out.empty()) {
      out.push_back({false, {line}});
    } else {
      out.back().items.back() += " " + line;  // a paragraph's next line, or a list item's continuation
    }
    fresh = false;
  }
  return out;
}

// Inline spans: `code` and **bold**; an unmatched marker stays as it is.
struct Span {
  enum Kind { plain, code, bold } kind;
  std::string text;
};

std::vector<Span> spans(const std::string& s) {
  std::vector<Span> out;
  std::string plain;
  std::size_t i = 0;
  auto flush = [&] {
    if (!plain.empty()) out.push_back({Span::plain, plain});
    plain.clear();
  };
  while (i < s.size()) {
    if (s[i] == '`') {
      const std::size_t e = s.find('`', i + 1);
      if (e != std::string::npos && e > i + 1) {
        flush();
        out.push_back({Span::code, s.substr(i + 1, e - i - 1)});
        i = e + 1;
        continue;
      }
    } else if (s.compare(i, 2, "**") == 0) {
      const std::size_t e = s.find("**", i + 2);
      if (e != std::string::npos && e > i + 2) {
        flush();
        out.push_back({Span::bold, s.substr(i + 2, e - i - 2)});
        i = e + 2;
        continue;
      }
    }
    plain += s[i++];
  }
  flush();
  return out;
}

std::string html_inline(const std::string& s) {
  std::string o;
  for (const Span& sp : spans(s)) {
    if (sp.kind == Span::code) o += "<code>" + util::html_escape(sp.text) + "</code>";
    else if (sp.kind == Span::bold) o += "<strong>" + html_inline(sp.text) + "</strong>";
    else o += util::html_escape(sp.text);
  }
  return o;
}

// Plain text: markers dropped; a code span never broken across lines (its spaces are \x01 until wrapped).
std::string text_inline(const std::string& s) {
  std::string o;
  for (const Span& sp : spans(s)) {
    if (sp.kind == Span::code) {
      for (char c : sp.text) o += c == ' ' ? '\x01' : c;
    } else if (sp.kind == Span::bold) {
      o += text_inline(sp.text);
    } else {
      o += sp.text;
    }
  }
  return o;
}

std::string wrap(const std::string& s, const std::string& first, const std::string& rest) {
  std::string out, line = first;
  bool empty = true;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size()) break;
    std::size_t e = s.find(' ', i);
    if (e == std::string::npos) e = s.size();
    const std::string word = s.substr(i, e - i);
    i = e;
    if (!empty && line.size() + 1 + word.size() > kTextWidth) {
      out += line + "\n";
      line = rest;
      empty = true;
    }
    line += (empty ? "" : " ") + word;
    empty = false;
  }
  out += line + "\n";
  for (char& c : out)
    if (c == '\x01') c = ' ';
  return out;
}

std::string body_text(const std::string& body) {
  std::string out;
  for (const Block& b : blocks(body)) {
    if (!out.empty()) out += "\n";
    for (const auto& item : b.items) out += b.list ? wrap(text_inline(item), "- ", "  ") : wrap(text_inline(item), "", "");
  }
  return out;
}

std::string body_html(const std::string& body) {
  std::string out;
  for (const Block& b : blocks(body)) {
    if (b.list) {
      out += "<ul>\n";
      for (const auto& item : b.items) out += "<li>" + html_inline(item) + "</li>\n";
      out += "</ul>\n";
    } else {
      out += "<p>" + html_inline(b.items[0]) + "</p>\n";
    }
  }
  return out;
}

std::string for_whom(const std::string& audience, const Values& v) {
  std::string s = "For " + audience_label(audience) + ".";
  s += v.has_results ? " Told with the numbers of your own results." : " With figures from published studies, cited.";
  return s;
}

const char* kStyle =
    "body{font:17px/1.55 Georgia,'Times New Roman',serif;max-width:40em;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.6em;line-height:1.25}h2{font-size:1.15em;margin-top:2em}.for{color:#555;font-style:italic}"
    "code{font:0.88em/1.4 'DejaVu Sans Mono',monospace;background:#f3f3f3;padding:0 .2em}"
    "table{border-collapse:collapse;font:14px/1.4 sans-serif}th,td{border:1px solid #ccc;padding:.3em .5em;"
    "vertical-align:top;text-align:left}td.n{text-align:right}.sources{font-size:.9em}"
    "body.wide{max-width:72em}td.id code{white-space:nowrap}td.summary{min-width:18em}"
    "@media print{body{margin:0;max-width:none}}";

std::string page(const std::string& title, const std::string& content, bool wide = false) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + util::html_escape(title) +
         "</title>\n<style>" + kStyle + "</style>\n</head>\n<body" + (wide ? " class=\"wide\"" : "") + ">\n" +
         content + "</body>\n</html>\n";
}

}  // namespace

std::size_t word_count(const std::string& text) {
  std::size_t n = 0;
  bool in = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

std::string format_story(const Story& s, const std::string& audience, const Values& v, Format format) {
  const std::string body = render(s.text.at(audience), v, audience == "admin");
  std::string out;
  switch (format) {
    case Format::text: {
      out = s.title + "\n" + std::string(std::min(s.title.size(), kTextWidth), '=') + "\n" +
            wrap(for_whom(audience, v), "", "") + "\n" + body_text(body);
      if (!s.sources.empty()) {
        out += "\nSources\n";
        for (const auto& src : s.sources) out += wrap(src.cite + ". " + src.url, "- ", "  ");
      }
      return out;
    }
    case Format::md: {
      out = "# " + s.title + "\n\n*" + for_whom(audience, v) + "*\n\n" + body + "\n";
      if (!s.sources.empty()) {
        out += "\n## Sources\n\n";
        for (const auto& src : s.sources) out += "- " + src.cite + ". <" + src.url + ">\n";
      }
      return out;
    }
    case Format::html: {
      std::string c = "<article data-topic=\"" + util::html_escape(s.id) + "\" data-audience=\"" + util::html_escape(audience) + "\">\n<h1>" +
                      util::html_escape(s.title) + "</h1>\n<p class=\"for\">" + util::html_escape(for_whom(audience, v)) + "</p>\n" +
                      body_html(body);
      if (!s.sources.empty()) {
        c += "<h2>Sources</h2>\n<ol class=\"sources\">\n";
        for (const auto& src : s.sources)
          c += "<li>" + util::html_escape(src.cite) + ". <a href=\"" + util::html_escape(src.url) + "\">" + util::html_escape(src.url) + "</a></li>\n";
        c += "</ol>\n";
      }
      c += "</article>\n";
      return page(s.title, c);
    }
  }
  return out;
}

std::string format_matrix(const std::vector<Story>& all, const Values& v, Format format) {
  const auto& aud = audiences();
  std::vector<std::vector<std::size_t>> words;
  for (const Story& s : all) {
    std::vector<std::size_t> w;
    for (const auto& a : aud) w.push_back(word_count(render(s.text.at(a), v, a == "admin")));
    words.push_back(std::move(w));
  }
  const std::string title = "The communications matrix: " + std::to_string(all.size()) + (all.size() == 1 ? " topic, " : " topics, ") +
                            std::to_string(aud.size()) + " audiences";
  const std::string how = "Each story: dicomguard explain TOPIC --audience AUDIENCE [RESULTS.jsonl...]. The numbers "
                          "are the words of each story" +
                          std::string(v.has_results ? ", told with your results." : ".");
  std::string out;
  if (format == Format::text) {
    out = title + "\n" + std::string(title.size(), '=') + "\n" + wrap(how, "", "") + "\n";
    std::string auds;
    for (const auto& a : aud) auds += (auds.empty() ? "" : ", ") + a;
    out += wrap("Audiences: " + auds + ".", "", "") + "\n";
    for (std::size_t i = 0; i < all.size(); ++i) {
      const Story& s = all[i];
      out += s.id + "\n" + wrap(s.title, "  ", "  ") + wrap(s.summary, "  ", "  ");
      std::string w;
      for (std::size_t k = 0; k < aud.size(); ++k) w += (k ? ", " : "") + aud[k] + " " + std::to_string(words[i][k]);
      out += wrap("words: " + w, "  ", "  ") + "\n";
    }
    return out;
  }
  if (format == Format::md) {
    out = "# " + title + "\n\n" + how + "\n\n| Topic | Title | Summary |";
    for (const auto& a : aud) out += " " + a + " |";
    out += "\n|---|---|---|";
    for (std::size_t k = 0; k < aud.size(); ++k) out += "---:|";
    out += "\n";
    auto cell = [](std::string s) {
      std::string o;
      for (char c : s) o += c == '|' ? std::string("\\|") : std::string(1, c);
      return o;
    };
    for (std::size_t i = 0; i < all.size(); ++i) {
      out += "| `" + all[i].id + "` | " + cell(all[i].title) + " | " + cell(all[i].summary) + " |";
      for (std::size_t w : words[i]) out += " " + std::to_string(w) + " |";
      out += "\n";
    }
    return out;
  }
  std::string c = "<h1>" + util::html_escape(title) + "</h1>\n<p>" + util::html_escape(how) + "</p>\n<table>\n<thead><tr><th>Topic</th>"
                  "<th>Title</th><th>Summary</th>";
  for (const auto& a : aud) c += "<th>" + util::html_escape(a) + "</th>";
  c += "</tr></thead>\n<tbody>\n";
  for (std::size_t i = 0; i < all.size(); ++i) {
    c += "<tr data-topic=\"" + util::html_escape(all[i].id) + "\"><td class=\"id\"><code>" + util::html_escape(all[i].id) +
         "</code></td><td>" + util::html_escape(all[i].title) + "</td><td class=\"summary\">" + util::html_escape(all[i].summary) + "</td>";
    for (std::size_t k = 0; k < aud.size(); ++k)
      c += "<td class=\"n\" data-audience=\"" + aud[k] + "\">" + std::to_string(words[i][k]) + "</td>";
    c += "</tr>\n";
  }
  c += "</tbody>\n</table>\n";
  return page(title, c, true);
}

}  // namespace dg::explain
