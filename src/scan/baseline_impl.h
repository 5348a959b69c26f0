#pragma once

#include <algorithm>
#include <iterator>

namespace dg::scan {

inline nlohmann::json state_json(const ServiceState& s) {
  return {{"protocol", s.protocol}, {"exposure", s.exposure}, {"checks", s.checks}};
}

template <class Probed>
std::vector<Record> compare(const ServiceMap& before, const ServiceMap& now, Probed&& probed) {
  std::vector<Record> out;
  auto change = [&](const std::string& target, const char* what, const ServiceState* b, const ServiceState* a) {
    Record r;
    r.type = "change";
    r.status = what;
    r.fields = {{"target", target}, {"change", what}, {"before", b ? state_json(*b) : nlohmann::json(nullptr)},
                {"after", a ? state_json(*a) : nlohmann::json(nullptr)}};
    if (a && b) {
      std::vector<std::string> added, removed;
      std::set_difference(a->checks.begin(), a->checks.end(), b->checks.begin(), b->checks.end(),
                          std::back_inserter(added));
      std::set_difference(b->checks.begin(), b->checks.end(), a->checks.begin(), a->checks.end(),
                          std::back_inserter(removed));
      r.fields["checks_added"] = added;
      r.fields["checks_removed"] = removed;
    }
    out.push_back(std::move(r));
  };
  for (const auto& [t, a] : now) {
    auto it = before.find(t);
    if (it == before.end()) change(t, "new", nullptr, &a);
    else if (it->second.protocol != a.protocol || it->second.exposure != a.exposure || it->second.checks != a.checks)
      change(t, "changed", &it->second, &a);
  }
  for (const auto& [t, b] : before)
    if (!now.count(t) && probed(t)) change(t, "gone", &b, nullptr);
  return out;
}

}  // namespace dg::scan
