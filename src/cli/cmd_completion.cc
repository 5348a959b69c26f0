// dicomguard completion bash|zsh|commands (hidden): shell completion scripts and the list of subcommands, both
// generated from CLI11's own model of the command line at run time, so they never go stale. The build uses it to
// install the completions and to write one man page per subcommand (cmake/install.cmake).
#include <cctype>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"

namespace dg::cli {
namespace {

// One command of the tree: "dicomguard", "dicomguard scan", "dicomguard ca init".
struct Node {
  std::string path;
  CLI::App* app;
  std::vector<std::string> subs;  // visible child subcommands
};

struct Flag {
  std::string name;  // --long
  std::string desc;
  std::string values;  // "" a flag without a value; "@file" complete files; "@none" a number; else the choices
};

bool visible(const CLI::App* a) { return !a->get_group().empty(); }

void walk(CLI::App* app, const std::string& path, std::vector<Node>& out) {
  Node n{path, app, {}};
  for (CLI::App* s : app->get_subcommands([](CLI::App* a) { return visible(a); })) n.subs.push_back(s->get_name());
  out.push_back(n);
  for (CLI::App* s : app->get_subcommands([](CLI::App* a) { return visible(a); }))
    walk(s, path + " " + s->get_name(), out);
}

// What a flag's value is, from the type name CLI11 shows in --help ("TEXT", "INT:INT in [1 - 64]",
// "TEXT:{low,high}", "FILE").
std::string value_kind(const CLI::Option* o) {
  if (o->get_items_expected_max() == 0) return "";  // a flag
  const std::string t = o->get_type_name();
  const auto open = t.find('{'), close = t.find('}');
  if (open != std::string::npos && close != std::string::npos && close > open) {
    std::string words = t.substr(open + 1, close - open - 1);
    for (char& c : words) {
      if (c == ',') c = ' ';
      else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ' '))
        return "@none";
    }
    return words;
  }
  const std::string base = t.substr(0, t.find(':'));
  if (base == "INT" || base == "UINT" || base == "FLOAT" || base == "NUMBER" || base == "BOOLEAN") return "@none";
  return "@file";
}

std::vector<Flag> flags_of(const CLI::App* app) {
  std::vector<Flag> out;
  for (const CLI::Option* o : app->get_options()) {
    if (o->get_group().empty()) continue;
    for (const std::string& l : o->get_lnames()) out.push_back({"--" + l, o->get_description(), value_kind(o)});
  }
  return out;
}

// A single-quoted shell word (bash and zsh alike).
std::string sq(const std::string& s) {
  std::string r = "'";
  for (char c : s) {
    if (c == '\'') r += "'\\''";
    else if (c == '\n') r += ' ';
    else r += c;
  }
  return r + "'";
}

std::string join(const std::vector<std::string>& v) {
  std::string r;
  for (const auto& s : v) r += (r.empty() ? "" : " ") + s;
  return r;
}

// The tables both scripts read: child subcommands and long flags per command, and the values of each flag that
// takes one, keyed "dicomguard scan --out". bash: table['key']='value'; zsh (where quotes in a subscript are
// literal): table+=( 'key' 'value' ).
void print_tables(const std::vector<Node>& nodes, bool zsh) {
  std::printf("%s _dicomguard_subs _dicomguard_flags _dicomguard_vals%s\n", zsh ? "typeset -gA" : "declare -gA",
              zsh ? " _dicomguard_desc" : "");
  auto set = [zsh](const char* table, const std::string& key, const std::string& value) {
    if (zsh) std::printf("%s+=( %s %s )\n", table, sq(key).c_str(), sq(value).c_str());
    else std::printf("%s[%s]=%s\n", table, sq(key).c_str(), sq(value).c_str());
  };
  for (const Node& n : nodes) {
    if (!n.subs.empty()) set("_dicomguard_subs", n.path, join(n.subs));
    std::vector<std::string> names;
    for (const Flag& f : flags_of(n.app)) {
      names.push_back(f.name);
      if (!f.values.empty()) set("_dicomguard_vals", n.path + " " + f.name, f.values);
      if (zsh) set("_dicomguard_desc", n.path + " " + f.name, f.desc);
    }
    if (zsh)
      for (CLI::App* s : n.app->get_subcommands([](CLI::App* a) { return visible(a); }))
        set("_dicomguard_desc", n.path + " " + s->get_name(), s->get_description());
    set("_dicomguard_flags", n.path, join(names));
  }
}

constexpr const char* kBashFunction = R"(
_dicomguard() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=dicomguard flag= w i
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    [[ " ${_dicomguard_subs[$cmd]-} " == *" $w "* ]] && cmd="$cmd $w"
  done
  # --flag VALUE, and --flag=VALUE (readline splits at '=': "--flag" "=" "VALUE")
  if [[ $cur == = ]]; then
    flag=${COMP_WORDS[COMP_CWORD-1]}; cur=
  elif ((COMP_CWORD >= 2)) && [[ ${COMP_WORDS[COMP_CWORD-1]} == = ]]; then
    flag=${COMP_WORDS[COMP_CWORD-2]}
  elif ((COMP_CWORD >= 1)); then
    flag=${COMP_WORDS[COMP_CWORD-1]}
  fi
  if [[ -n $flag && -n ${_dicomguard_vals["$cmd $flag"]+x} ]]; then
    case ${_dicomguard_vals["$cmd $flag"]} in
      @file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
      @none) ;;
      *) mapfile -t COMPREPLY < <(compgen -W "${_dicomguard_vals["$cmd $flag"]}" -- "$cur") ;;
    esac
    return 0
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${_dicomguard_flags[$cmd]-}" -- "$cur")
  elif [[ -n ${_dicomguard_subs[$cmd]-} ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${_dicomguard_subs[$cmd]}" -- "$cur")
  else
    compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
  return 0
}
complete -F _dicomguard dicomguard
)";

constexpr const char* kZshFunction = R"(
_dicomguard() {
  local cmd=dicomguard flag= w i cur=${words[CURRENT]}
  local -a subs items
  for (( i = 2; i < CURRENT; i++ )); do
    w=${words[i]}
    subs=( ${=_dicomguard_subs[$cmd]} )
    (( ${subs[(Ie)$w]} )) && cmd="$cmd $w"
  done
  if [[ $cur == --*=* ]]; then
    flag=${cur%%=*}
    compset -P '*='
  else
    flag=${words[CURRENT-1]}
  fi
  if [[ -n $flag ]] && (( ${+_dicomguard_vals[$cmd $flag]} )); then
    case ${_dicomguard_vals[$cmd $flag]} in
      @file) _files ;;
      @none) _message -e values 'a number' ;;
      *) compadd -- ${=_dicomguard_vals[$cmd $flag]} ;;
    esac
    return
  fi
  if [[ $cur == -* ]]; then
    for w in ${=_dicomguard_flags[$cmd]}; do items+=( "${w}:${_dicomguard_desc[$cmd $w]}" ); done
    _describe -t options option items
    return
  fi
  subs=( ${=_dicomguard_subs[$cmd]} )
  if (( $#subs )); then
    for w in $subs; do items+=( "${w}:${_dicomguard_desc[$cmd $w]}" ); done
    _describe -t commands command items
    return
  fi
  _files
}
_dicomguard "$@"
)";

}  // namespace

Action add_completion(CLI::App& app) {
  auto* sub = app.add_subcommand("completion", "Shell completion scripts (bash, zsh) and the list of subcommands");
  sub->group("");  // hidden: for packagers and the build
  auto what = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  sub->add_option("WHAT", *what, "bash, zsh or commands")->required()->check(CLI::IsMember({"bash", "zsh", "commands"}));
  sub->add_flag("--all", *all, "commands: also the nested subcommands, as 'ca init'");
  CLI::App* root = &app;
  return [root, what, all]() {
    std::vector<Node> nodes;
    walk(root, "dicomguard", nodes);
    if (*what == "commands") {
      for (const Node& n : nodes) {
        if (n.path == "dicomguard") continue;
        const std::string name = n.path.substr(std::string("dicomguard ").size());
        if (*all || name.find(' ') == std::string::npos) std::printf("%s\n", name.c_str());
      }
      return kExitClean;
    }
    if (*what == "bash") {
      std::printf("# bash completion for dicomguard %s, generated by 'dicomguard completion bash'\n", kVersion);
      print_tables(nodes, false);
      std::fputs(kBashFunction, stdout);
    } else {
      std::printf("#compdef dicomguard\n# zsh completion for dicomguard %s, generated by 'dicomguard completion zsh'\n",
                  kVersion);
      print_tables(nodes, true);
      std::fputs(kZshFunction, stdout);
    }
    return kExitClean;
  };
}

}  // namespace dg::cli
