#include "deid/iod_types.h"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace dg::deid {

extern const std::string_view kIodTypesJson;

namespace {

struct Table {
  std::unordered_map<std::string, std::unordered_map<dicom::Tag, AttributeType>> iods;
};

AttributeType parse_type(const std::string& s) {
  if (s == "1") return AttributeType::type1;
  if (s == "1C") return AttributeType::type1c;
  if (s == "2") return AttributeType::type2;
  if (s == "2C") return AttributeType::type2c;
  if (s == "3") return AttributeType::type3;
  throw std::runtime_error("iod_types.json: a Type the build cannot read: " + s);
}

dicom::Tag parse_tag(const std::string& s) {
  if (s.size() != 8) throw std::runtime_error("iod_types.json: a tag the build cannot read: " + s);
  dicom::Tag t = 0;
  for (char c : s) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) throw std::runtime_error("iod_types.json: a tag the build cannot read: " + s);
    t = t << 4 | static_cast<dicom::Tag>(v);
  }
  return t;
}

const Table& table() {
  static const Table t = [] {
    Table out;
    const auto j = nlohmann::json::parse(kIodTypesJson);
    for (const auto& [uid, iod] : j.at("iods").items()) {
      auto& types = out.iods[uid];
      for (const auto& [tag, type] : iod.at("types").items()) types.emplace(parse_tag(tag), parse_type(type.get<std::string>()));
    }
    return out;
  }();
  return t;
}

std::string_view trim(std::string_view uid) {
  while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.remove_suffix(1);
  return uid;
}

}  // namespace

AttributeType attribute_type(std::string_view sop_class_uid, dicom::Tag tag) {
  const auto& iods = table().iods;
  const auto it = iods.find(std::string(trim(sop_class_uid)));
  if (it == iods.end()) return AttributeType::unknown;
  const auto t = it->second.find(tag);
  return t == it->second.end() ? AttributeType::unknown : t->second;
}

const char* attribute_type_name(AttributeType t) {
  switch (t) {
    case AttributeType::type1: return "1";
    case AttributeType::type1c: return "1C";
    case AttributeType::type2: return "2";
    case AttributeType::type2c: return "2C";
    case AttributeType::type3: return "3";
    case AttributeType::unknown: break;
  }
  return "unknown";
}

bool iod_known(std::string_view sop_class_uid) { return table().iods.count(std::string(trim(sop_class_uid))) != 0; }

std::size_t iod_count() { return table().iods.size(); }

}  // namespace dg::deid
