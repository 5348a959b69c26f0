#include "explain/template.h"

#include <algorithm>
#include <memory>

namespace dg::explain {

const std::vector<std::string>& count_names() {
  static const std::vector<std::string> names = {
      "services", "hosts",     "plaintext",      "tls_services", "any_ae", "query_open",
      "retrieve_open", "store_open", "tls_weak", "cert_problems", "vulnerable", "internet",
      "files",    "files_flagged", "audit_problems", "critical", "high"};
  return names;
}

const std::vector<std::string>& list_names() {
  static const std::vector<std::string> names = {"hosts_list", "query_open_hosts", "plaintext_hosts"};
  return names;
}

namespace {

bool is_count(std::string_view n) {
  const auto& c = count_names();
  return std::find(c.begin(), c.end(), n) != c.end();
}
bool is_list(std::string_view n) {
  const auto& l = list_names();
  return std::find(l.begin(), l.end(), n) != l.end();
}

struct Node {
  enum Kind { text, value, plural, section } kind = text;
  std::string s;          // text; the name of a value, plural or section
  std::string one, many;  // plural
  bool inverted = false;  // section: {{^name}}
  std::vector<Node> children;
};

[[noreturn]] void fail(std::size_t line, const std::string& what) {
  throw TemplateError("line " + std::to_string(line) + ": " + what);
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

// The names of a value or section: only those of the table; host lists only for the administrator.
void check_name(const std::string& name, bool section, bool admin, std::size_t line, const std::string& tag) {
  if (section && name == "results") return;
  if (!is_count(name) && !is_list(name))
    fail(line, "unknown name " + tag + " (known: results, the counts " + [] {
      std::string s;
      for (const auto& n : count_names()) s += (s.empty() ? "" : ", ") + n;
      return s;
    }() + "; the host lists hosts_list, query_open_hosts, plaintext_hosts)");
  if (is_list(name) && !admin) fail(line, tag + " names hosts: host lists are for the admin audience only");
}

struct Frame {
  Node node;
  std::size_t line;
  bool implies_results;  // {{#results}}, {{#name}}, {{^name}}
  bool without_results;  // {{^results}}
};

Node parse(std::string_view t, bool admin) {
  std::vector<Frame> stack;
  stack.push_back({Node{Node::section, "", "", "", false, {}}, 1, false, false});
  std::size_t pos = 0, line = 1;
  auto line_of = [&](std::size_t upto) {
    line += static_cast<std::size_t>(std::count(t.begin() + static_cast<std::ptrdiff_t>(pos),
                                                t.begin() + static_cast<std::ptrdiff_t>(upto), '\n'));
  };
  auto add_text = [&](std::size_t from, std::size_t to) {
    if (to > from) stack.back().node.children.push_back({Node::text, std::string(t.substr(from, to - from)), "", "", false, {}});
  };
  auto results_here = [&] {
    for (const Frame& f : stack) {
      if (f.without_results) return -1;
    }
    for (const Frame& f : stack)
      if (f.implies_results) return 1;
    return 0;
  };
  while (true) {
    const std::size_t open = t.find("{{", pos);
    if (open == std::string_view::npos) {
      add_text(pos, t.size());
      break;
    }
    const std::size_t close = t.find("}}", open + 2);
    const std::size_t line_before = line;
    line_of(open);
    if (close == std::string_view::npos) fail(line, "{{ without }}");
    const std::string inner(t.substr(open + 2, close - open - 2));
    const std::string tag = "{{" + inner + "}}";
    if (inner.find('\n') != std::string::npos || inner.find("{{") != std::string::npos)
      fail(line, "{{ without }} on the same line");
    std::size_t end = close + 2;
    const char sigil = inner.empty() ? '\0' : inner[0];
    if (sigil == '#' || sigil == '^' || sigil == '/') {
      // A line holding nothing but this tag goes away with its newline.
      const std::size_t line_start = t.rfind('\n', open) == std::string_view::npos ? 0 : t.rfind('\n', open) + 1;
      std::size_t line_end = t.find('\n', end);
      if (line_end == std::string_view::npos) line_end = t.size();
      std::size_t text_end = open;
      if (line_start >= pos && blank(t.substr(line_start, open - line_start)) && blank(t.substr(end, line_end - end))) {
        text_end = line_start;
        end = line_end < t.size() ? line_end + 1 : line_end;
      }
      add_text(pos, text_end);
      const std::string name = inner.substr(1);
      if (sigil == '/') {
        if (stack.size() == 1) fail(line, tag + " closes no section");
        if (stack.back().node.s != name)
          fail(line, tag + " closes {{" + std::string(stack.back().node.inverted ? "^" : "#") + stack.back().node.s +
                         "}} of line " + std::to_string(stack.back().line));
        Node done = std::move(stack.back().node);
        stack.pop_back();
        stack.back().node.children.push_back(std::move(done));
      } else {
        check_name(name, true, admin, line, tag);
        const bool inv = sigil == '^';
        if (name != "results" && results_here() < 0)
          fail(line, tag + " inside {{^results}} can never show (it needs results)");
        Frame f{Node{Node::section, name, "", "", inv, {}}, line, name != "results" || !inv, name == "results" && inv};
        stack.push_back(std::move(f));
      }
    } else {
      add_text(pos, open);
      Node n;
      const std::size_t bar = inner.find('|');
      if (bar == std::string::npos) {
        n.kind = Node::value;
        n.s = inner;
      } else {
        const std::size_t bar2 = inner.find('|', bar + 1);
        if (bar2 == std::string::npos || inner.find('|', bar2 + 1) != std::string::npos)
          fail(line, tag + ": a plural is {{name|singular|plural}}");
        n.kind = Node::plural;
        n.s = inner.substr(0, bar);
        n.one = inner.substr(bar + 1, bar2 - bar - 1);
        n.many = inner.substr(bar2 + 1);
      }
      check_name(n.s, false, admin, line, tag);
      if (n.kind == Node::plural && !is_count(n.s)) fail(line, tag + ": a plural needs a count, not a host list");
      const int r = results_here();
      if (r < 0) fail(line, tag + " inside {{^results}}: there are no results there");
      if (r == 0) fail(line, tag + " outside {{#results}}: a measured value needs results");
      stack.back().node.children.push_back(std::move(n));
    }
    line = line_before;
    line_of(end);
    pos = end;
  }
  if (stack.size() > 1)
    fail(stack.back().line, "{{" + std::string(stack.back().node.inverted ? "^" : "#") + stack.back().node.s +
                                "}} is never closed");
  return std::move(stack.back().node);
}

std::string grouped(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string s;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

std::uint64_t count_of(const Values& v, const std::string& name) {
  auto it = v.counts.find(name);
  return it == v.counts.end() ? 0 : it->second;
}

const std::vector<std::string>& list_of(const Values& v, const std::string& name) {
  static const std::vector<std::string> none;
  auto it = v.lists.find(name);
  return it == v.lists.end() ? none : it->second;
}

void emit(const Node& n, const Values& v, std::string& out) {
  switch (n.kind) {
    case Node::text:
      out += n.s;
      break;
    case Node::value:
      if (is_list(n.s)) {
        const auto& l = list_of(v, n.s);
        if (l.empty()) out += "none";
        for (std::size_t i = 0; i < l.size() && i < kListShown; ++i) out += (i ? ", " : "") + l[i];
        if (l.size() > kListShown) out += " and " + grouped(l.size() - kListShown) + " more";
      } else {
        out += grouped(count_of(v, n.s));
      }
      break;
    case Node::plural:
      out += count_of(v, n.s) == 1 ? n.one : n.many;
      break;
    case Node::section: {
      bool show;
      if (n.s.empty()) show = true;  // the root
      else if (n.s == "results") show = v.has_results != n.inverted;
      else {
        const bool some = is_list(n.s) ? !list_of(v, n.s).empty() : count_of(v, n.s) > 0;
        show = v.has_results && some != n.inverted;
      }
      if (show)
        for (const Node& c : n.children) emit(c, v, out);
      break;
    }
  }
}

// Trailing spaces off every line, at most one blank line between paragraphs, none at the ends.
std::string tidy(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t from = 0;
  while (from <= s.size()) {
    std::size_t nl = s.find('\n', from);
    if (nl == std::string::npos) nl = s.size();
    std::string l = s.substr(from, nl - from);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r')) l.pop_back();
    lines.push_back(std::move(l));
    from = nl + 1;
  }
  std::string out;
  bool pending_blank = false;
  for (const auto& l : lines) {
    if (l.empty()) {
      pending_blank = !out.empty();
      continue;
    }
    if (!out.empty()) out += pending_blank ? "\n\n" : "\n";
    pending_blank = false;
    out += l;
  }
  return out;
}

}  // namespace

std::string render(std::string_view text, const Values& values, bool admin) {
  const Node root = parse(text, admin);
  std::string out;
  emit(root, values, out);
  return tidy(out);
}

std::string check(std::string_view text, bool admin) {
  try {
    parse(text, admin);
  } catch (const TemplateError& e) {
    return e.what();
  }
  return {};
}

}  // namespace dg::explain
