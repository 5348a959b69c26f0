#include "deid/profile.h"

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace dg::deid {

extern const std::string_view kProfileJson;

const char* action_name(Action a) {
  switch (a) {
    case Action::keep: return "keep";
    case Action::remove: return "remove";
    case Action::empty: return "empty";
    case Action::dummy: return "dummy";
    case Action::clean: return "clean";
    case Action::uid: return "uid";
  }
  return "?";
}

std::vector<std::string> option_names(const Options& o) {
  std::vector<std::string> v;
  if (o.retain_safe_private) v.push_back("retain-safe-private");
  if (o.retain_uids) v.push_back("retain-uids");
  if (o.retain_device_identity) v.push_back("retain-device-identity");
  if (o.retain_institution_identity) v.push_back("retain-institution-identity");
  if (o.retain_patient_characteristics) v.push_back("retain-patient-characteristics");
  if (o.retain_long_full_dates) v.push_back("retain-long-full-dates");
  if (o.retain_long_modified_dates) v.push_back("retain-long-modified-dates");
  if (o.clean_descriptors) v.push_back("clean-descriptors");
  if (o.clean_structured_content) v.push_back("clean-structured-content");
  if (o.clean_graphics) v.push_back("clean-graphics");
  return v;
}

namespace {

struct Table {
  std::vector<Row> rows;
  std::map<dicom::Tag, std::size_t> exact;
  std::size_t curves = SIZE_MAX, overlay_data = SIZE_MAX, overlay_comments = SIZE_MAX, private_attrs = SIZE_MAX;
};

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_tag(const std::string& s, dicom::Tag& t) {
  if (s.size() != 11 || s[0] != '(' || s[5] != ',' || s[10] != ')') return false;
  std::uint32_t v = 0;
  for (std::size_t i : {1, 2, 3, 4, 6, 7, 8, 9}) {
    const int h = hex(s[i]);
    if (h < 0) return false;
    v = v << 4 | static_cast<std::uint32_t>(h);
  }
  t = v;
  return true;
}

const Table& the_table() {
  static const Table t = [] {
    Table tb;
    const auto j = nlohmann::json::parse(kProfileJson);
    auto cell = [](const nlohmann::json& r, const char* k) { return r.contains(k) ? r[k].get<std::string>() : ""; };
    for (const auto& r : j) {
      Row row{cell(r, "tag"), cell(r, "name"), cell(r, "basicProfile"), cell(r, "rtnSafePrivOpt"),
              cell(r, "rtnUIDsOpt"), cell(r, "rtnDevIdOpt"), cell(r, "rtnInstIdOpt"), cell(r, "rtnPatCharsOpt"),
              cell(r, "rtnLongFullDatesOpt"), cell(r, "rtnLongModifDatesOpt"), cell(r, "cleanDescOpt"),
              cell(r, "cleanStructContOpt"), cell(r, "cleanGraphOpt")};
      const std::size_t i = tb.rows.size();
      dicom::Tag tag = 0;
      if (parse_tag(row.tag_text, tag)) tb.exact[tag] = i;
      else if (row.tag_text == "(50XX,XXXX)") tb.curves = i;
      else if (row.tag_text == "(60XX,3000)") tb.overlay_data = i;
      else if (row.tag_text == "(60XX,4000)") tb.overlay_comments = i;
      else if (row.tag_text.rfind("(GGGG,EEEE)", 0) == 0) tb.private_attrs = i;
      else throw std::runtime_error("Table E.1-1: a tag the build cannot read: " + row.tag_text);
      tb.rows.push_back(std::move(row));
    }
    if (tb.curves == SIZE_MAX || tb.overlay_data == SIZE_MAX || tb.overlay_comments == SIZE_MAX ||
        tb.private_attrs == SIZE_MAX)
      throw std::runtime_error("Table E.1-1: a pattern row is missing");
    return tb;
  }();
  return t;
}

}  // namespace

const std::vector<Row>& table() { return the_table().rows; }

const Row* row_for(dicom::Tag t) {
  const Table& tb = the_table();
  if (auto it = tb.exact.find(t); it != tb.exact.end()) return &tb.rows[it->second];
  const std::uint16_t g = dicom::group(t), e = dicom::element(t);
  if (g & 1) return &tb.rows[tb.private_attrs];
  if (g >= 0x5000 && g <= 0x501E) return &tb.rows[tb.curves];
  if (g >= 0x6000 && g <= 0x601E && e == 0x3000) return &tb.rows[tb.overlay_data];
  if (g >= 0x6000 && g <= 0x601E && e == 0x4000) return &tb.rows[tb.overlay_comments];
  return nullptr;
}

Action resolve(std::string_view c, AttributeType type) {
  if (c.find('/') != std::string_view::npos && type != AttributeType::unknown) {
    auto offers = [&](char a) {
      for (std::size_t i = 0; i < c.size(); ++i)
        if (c[i] == a && (i == 0 || c[i - 1] == '/')) return true;
      return false;
    };
    switch (type) {
      case AttributeType::type1:
      case AttributeType::type1c:
        if (offers('U')) return Action::uid;
        if (offers('D')) return Action::dummy;
        break;
      case AttributeType::type2:
      case AttributeType::type2c:
        if (offers('Z')) return Action::empty;
        break;
      case AttributeType::type3:
        if (offers('X')) return Action::remove;
        break;
      case AttributeType::unknown: break;
    }
  }
  if (c == "K") return Action::keep;
  if (c == "X") return Action::remove;
  if (c == "Z") return Action::empty;
  if (c == "C") return Action::clean;
  if (c == "U" || c == "X/Z/U*" || c == "X/Z/U") return Action::uid;
  if (c == "X/Z") return Action::empty;
  if (c == "D" || c == "Z/D" || c == "X/D" || c == "X/Z/D") return Action::dummy;
  return Action::remove;  // a code this table does not use: the safe side
}

Action action_for(dicom::Tag t, const Options& o, AttributeType type) {
  const Row* r = row_for(t);
  if (!r) return Action::keep;
  const std::pair<bool, const std::string*> cols[] = {
      {o.retain_safe_private, &r->safe_private},   {o.retain_uids, &r->uids},
      {o.retain_device_identity, &r->device},      {o.retain_institution_identity, &r->institution},
      {o.retain_patient_characteristics, &r->patient_chars}, {o.retain_long_full_dates, &r->full_dates},
      {o.retain_long_modified_dates, &r->modified_dates},    {o.clean_descriptors, &r->descriptors},
      {o.clean_structured_content, &r->structured},          {o.clean_graphics, &r->graphics}};
  bool any = false, k = false, c = false;
  Action first = Action::remove;
  for (const auto& [on, cell] : cols) {
    if (!on || cell->empty()) continue;
    const Action a = resolve(*cell, type);
    if (!any) first = a;
    any = true;
    k |= a == Action::keep;
    c |= a == Action::clean;
  }
  if (!any) return resolve(r->basic, type);
  return k ? Action::keep : c ? Action::clean : first;
}

}  // namespace dg::deid
