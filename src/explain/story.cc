#include "explain/story.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "explain/template.h"

namespace dg::explain {

struct EmbeddedStory {
  std::string_view name, text;
};
extern const EmbeddedStory kEmbeddedStories[];

const std::vector<std::string>& audiences() {
  static const std::vector<std::string> a = {"admin", "ciso", "journalist", "product-manager", "regulator", "public"};
  return a;
}

std::string audience_label(const std::string& a) {
  if (a == "admin") return "the administrator";
  if (a == "ciso") return "the CISO";
  if (a == "journalist") return "the journalist";
  if (a == "product-manager") return "the product manager";
  if (a == "regulator") return "the regulator";
  if (a == "public") return "the public";
  return a;
}

const std::vector<std::string>& topic_order() {
  static const std::vector<std::string> t = {"why-no-mandate", "am-i-exposed", "turn-on-encryption", "shodan",
                                             "have-you-looked", "rfp", "healthcare-different", "misconfigured",
                                             "certificates", "malware", "basic-rules", "auditing", "patching"};
  return t;
}

namespace {

[[noreturn]] void bad(const std::string& name, const std::string& what) {
  throw std::invalid_argument("data/stories/" + name + ".toml: " + what);
}

std::string required_string(const toml::table& t, const char* key, const std::string& name, const std::string& where) {
  const auto* v = t.get_as<std::string>(key);
  if (!v || v->get().empty()) bad(name, where + "needs " + key + " (a non-empty string)");
  return v->get();
}

std::vector<std::string> string_array(const toml::table& t, const char* key, const std::string& name,
                                      const std::string& where) {
  const auto* node = t.get(key);
  if (!node) bad(name, where + "needs " + key + " (an array of strings)");
  const auto* arr = node->as_array();
  if (!arr) bad(name, where + key + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& e : *arr) {
    const auto* s = e.as_string();
    if (!s || s->get().empty()) bad(name, where + key + " must hold non-empty strings");
    out.push_back(s->get());
  }
  return out;
}

void known_keys(const toml::table& t, const std::set<std::string>& keys, const std::string& name,
                const std::string& where) {
  for (const auto& [k, v] : t)
    if (!keys.count(std::string(k.str()))) bad(name, "unknown key '" + std::string(k.str()) + "'" + where);
}

}  // namespace

Story parse_story(std::string_view text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, "data/stories/" + name + ".toml");
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << e.description() << " (" << e.source().begin << ")";
    bad(name, m.str());
  }
  std::set<std::string> keys = {"id", "title", "summary", "terms", "source"};
  for (const auto& a : audiences()) keys.insert(a);
  known_keys(root, keys, name, "");
  Story s;
  s.id = required_string(root, "id", name, "");
  if (s.id != name) bad(name, "id \"" + s.id + "\" is not the file's name");
  s.title = required_string(root, "title", name, "");
  s.summary = required_string(root, "summary", name, "");
  s.terms = root.contains("terms") ? string_array(root, "terms", name, "") : std::vector<std::string>{};
  if (const auto* node = root.get("source")) {
    const auto* arr = node->as_array();
    if (!arr) bad(name, "source must be [[source]] tables");
    for (const auto& e : *arr) {
      const auto* t = e.as_table();
      if (!t) bad(name, "source must be [[source]] tables");
      known_keys(*t, {"id", "cite", "url", "figures"}, name, " in a [[source]]");
      Source src;
      src.id = required_string(*t, "id", name, "a [[source]] ");
      const std::string where = "source " + src.id + " ";
      src.cite = required_string(*t, "cite", name, where);
      src.url = required_string(*t, "url", name, where);
      src.figures = string_array(*t, "figures", name, where);
      s.sources.push_back(std::move(src));
    }
  }
  for (const auto& a : audiences()) {
    const auto* t = root.get_as<toml::table>(a);
    if (!t) bad(name, "needs [" + a + "] with its text");
    known_keys(*t, {"text"}, name, " in [" + a + "]");
    std::string body = required_string(*t, "text", name, "[" + a + "] ");
    if (std::string e = check(body, a == "admin"); !e.empty()) bad(name, "[" + a + "] text, " + e);
    s.text[a] = std::move(body);
  }
  return s;
}

const std::vector<Story>& stories() {
  static const std::vector<Story> all = [] {
    std::vector<Story> v;
    for (const EmbeddedStory* e = kEmbeddedStories; !e->name.empty(); ++e) v.push_back(parse_story(e->text, std::string(e->name)));
    const auto& order = topic_order();
    auto rank = [&](const Story& s) {
      return static_cast<std::size_t>(std::find(order.begin(), order.end(), s.id) - order.begin());
    };
    std::sort(v.begin(), v.end(), [&](const Story& a, const Story& b) {
      return rank(a) != rank(b) ? rank(a) < rank(b) : a.id < b.id;
    });
    return v;
  }();
  return all;
}

const Story* find_story(const std::string& id) {
  for (const Story& s : stories())
    if (s.id == id) return &s;
  return nullptr;
}

}  // namespace dg::explain
