#include "deid/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "deid/rewrite.h"
#include "deid/safe_private.h"
#include "dicom/part10.h"
#include "dicom/uids.h"
#include "dicom/walker.h"

namespace dg::deid {

namespace {

namespace part10 = dicom::part10;
using dicom::Tag;
using dicom::VR;

constexpr std::uint64_t kMaxInflated = std::uint64_t{1} << 30;  // a deflated output inflating to more: an error
constexpr std::size_t kMinNeedle = 4;

std::string trimmed(std::span<const std::uint8_t> v) {
  std::string s(v.begin(), v.end());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  const auto first = s.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first);
}

// One file's dataset as bytes (inflated when deflated), with the encoding to walk it in.
struct Dataset {
  std::vector<std::uint8_t> inflated;       // only for a deflated dataset
  std::span<const std::uint8_t> bytes;
  std::uint64_t origin = 0;
  dicom::Encoding encoding = dicom::kExplicitLittle;
  part10::FileMeta meta;
  std::string error;  // "" or why the dataset cannot be read
};

Dataset open_dataset(std::span<const std::uint8_t> file) {
  Dataset d;
  if (!part10::has_marker(file)) {
    d.error = "not a DICOM Part 10 file";
    return d;
  }
  d.meta = part10::read_meta(file);
  if (d.meta.dataset_start > file.size()) {
    d.error = "the File Meta group runs past the end of the file";
    return d;
  }
  const auto rest = file.subspan(static_cast<std::size_t>(d.meta.dataset_start));
  if (d.meta.transfer_syntax_usable() && d.meta.transfer_syntax.deflated) {
    part10::InflateStream in(rest, kMaxInflated);
    std::uint8_t buf[65536];
    while (std::size_t n = in.read(buf)) d.inflated.insert(d.inflated.end(), buf, buf + n);
    if (in.limit()) {
      d.error = "the deflated dataset inflates past 1 GiB";
      return d;
    }
    if (in.inflater().state() == util::Inflater::State::corrupt) {
      d.error = "the deflated dataset is corrupt";
      return d;
    }
    d.bytes = d.inflated;
    d.origin = 0;
    d.encoding = dicom::kExplicitLittle;
    return d;
  }
  d.bytes = rest;
  d.origin = d.meta.dataset_start;
  d.encoding = part10::declared_encoding(d.meta, rest);
  return d;
}

// Calls `each(element, value, creator)` for every element at every depth, with the private creator that reserves
// a private element's block in its own dataset or item ("" when none does).
class Elements : public dicom::Visitor {
 public:
  using Each = std::function<void(const dicom::Element&, std::span<const std::uint8_t>, const std::string& creator)>;
  using Open = std::function<void(const dicom::Element&)>;
  Elements(Each each, Open sequence, Open item) : each_(std::move(each)), seq_(std::move(sequence)), item_(std::move(item)) {
    scopes_.emplace_back();
  }
  void element(const dicom::Element& e, std::span<const std::uint8_t> v) override {
    std::string creator;
    if (dicom::is_private(e.tag) && !e.fragment) {
      const std::uint16_t el = dicom::element(e.tag);
      if (el >= 0x0010 && el <= 0x00FF) {
        scopes_.back()[{dicom::group(e.tag), static_cast<std::uint8_t>(el)}] = trimmed(v);
      } else if (el >= 0x1000) {
        if (auto it = scopes_.back().find({dicom::group(e.tag), static_cast<std::uint8_t>(el >> 8)});
            it != scopes_.back().end())
          creator = it->second;
      }
    }
    each_(e, v, creator);
  }
  void sequence(const dicom::Element& e) override { seq_(e); }
  void item(const dicom::Element& e) override {
    item_(e);
    scopes_.emplace_back();
  }
  void item_end(std::uint64_t) override {
    if (scopes_.size() > 1) scopes_.pop_back();
  }

 private:
  Each each_;
  Open seq_, item_;
  std::vector<std::map<std::pair<std::uint16_t, std::uint8_t>, std::string>> scopes_;
};

dicom::WalkResult walk_all(const Dataset& d, Elements& v) { return dicom::walk(d.bytes, d.origin, d.encoding, v); }

bool is_text_vr(VR vr) {
  for (const char* t : {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "DA", "DT", "AE"})
    if (vr == dicom::vr(std::string_view(t, 2))) return true;
  return false;
}

// The attribute the option codes of CID 7050 name, as Options.
void apply_code(const std::string& code, Options& o) {
  if (code == "113103") o.clean_graphics = true;
  else if (code == "113104") o.clean_structured_content = true;
  else if (code == "113105") o.clean_descriptors = true;
  else if (code == "113106") o.retain_long_full_dates = true;
  else if (code == "113107") o.retain_long_modified_dates = true;
  else if (code == "113108") o.retain_patient_characteristics = true;
  else if (code == "113109") o.retain_device_identity = true;
  else if (code == "113110") o.retain_uids = true;
  else if (code == "113111") o.retain_safe_private = true;
  else if (code == "113112") o.retain_institution_identity = true;
}

// Patient ID and Patient's Name may hold a consistent pseudonym instead of being emptied (PS3.15 E.1.1: a
// replacement "consistent with" the identity's use; deid writes the keyed Patient ID pseudonym in both); with
// --against, the input's values are still searched for in them.
bool pseudonym_allowed(Tag t) { return t == dicom::tag(0x0010, 0x0010) || t == dicom::tag(0x0010, 0x0020); }

constexpr Tag kPatientIdentityRemoved = dicom::tag(0x0012, 0x0062);
constexpr Tag kMethodCodeSequence = dicom::tag(0x0012, 0x0064);
constexpr Tag kCodeValue = dicom::tag(0x0008, 0x0100);
constexpr Tag kBurnedInAnnotation = dicom::tag(0x0028, 0x0301);
constexpr Tag kModality = dicom::tag(0x0008, 0x0060);

struct Recorded {
  Options options;
  bool identity_removed = false, codes = false, basic = false;
};

Recorded read_recorded(const Dataset& d) {
  Recorded r;
  Tag in_sequence = 0;
  Elements v(
      [&](const dicom::Element& e, std::span<const std::uint8_t> val, const std::string&) {
        if (e.depth == 0 && e.tag == kPatientIdentityRemoved) r.identity_removed = trimmed(val) == "YES";
        if (e.depth == 1 && in_sequence == kMethodCodeSequence && e.tag == kCodeValue) {
          const std::string code = trimmed(val);
          r.basic |= code == "113100";
          apply_code(code, r.options);
        }
      },
      [&](const dicom::Element& e) {
        if (e.depth == 0) in_sequence = e.tag;
        if (e.depth == 0 && e.tag == kMethodCodeSequence) r.codes = true;
      },
      [](const dicom::Element&) {});
  walk_all(d, v);
  return r;
}

std::vector<std::string> name_components(const std::string& pn) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : pn + '^') {
    if (c == '^' || c == '=') {
      if (cur.size() >= kMinNeedle) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

// The values of a UI element (backslash-separated), padding removed, empty ones left out.
std::vector<std::string> split_uids(std::span<const std::uint8_t> v) {
  std::vector<std::string> out;
  std::string cur;
  for (std::uint8_t c : v) {
    if (c == '\\') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != '\0' && c != ' ') {
      cur += static_cast<char>(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string parent_of(const std::string& uid) {
  const auto dot = uid.rfind('.');
  if (dot == std::string::npos) return {};
  const std::string p = uid.substr(0, dot);
  return std::count(p.begin(), p.end(), '.') >= 2 ? p : std::string();
}

// Whether `text` is in `hay`. A value made of digits (a date, a number-like ID) counts only where it is not part of
// a longer run of digits and dots: "19010107" inside a new 2.25 UID's 39 random digits is chance, not a leak.
bool contains_value(std::span<const std::uint8_t> hay, const std::string& text) {
  const bool numeric = std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  const std::boyer_moore_horspool_searcher searcher(text.begin(), text.end());
  auto digit = [](std::uint8_t c) { return (c >= '0' && c <= '9') || c == '.'; };
  for (auto from = hay.begin();;) {
    const auto it = std::search(from, hay.end(), searcher);
    if (it == hay.end()) return false;
    if (!numeric) return true;
    const auto end = it + static_cast<std::ptrdiff_t>(text.size());
    if ((it == hay.begin() || !digit(*(it - 1))) && (end == hay.end() || !digit(*end))) return true;
    from = it + 1;
  }
}

}  // namespace

void collect_against(std::span<const std::uint8_t> file, Against& a) {
  const Dataset d = open_dataset(file);
  if (!d.error.empty()) {
    ++a.unreadable;
    return;
  }
  ++a.files;
  std::set<std::pair<std::string, Tag>> seen;
  for (const auto& n : a.needles) seen.insert({n.text, n.tag});
  auto add = [&](std::string text, Tag t, bool safe, bool date) {
    if (text.size() < kMinNeedle || !seen.insert({text, t}).second) return;
    a.needles.push_back({std::move(text), t, safe, date});
  };
  Elements v(
      [&](const dicom::Element& e, std::span<const std::uint8_t> val, const std::string& creator) {
        if (e.fragment || e.truncated) return;
        // Private creators name a vendor, not a patient: under --retain-safe-private they stay with their block.
        const std::uint16_t el = dicom::element(e.tag);
        const bool safe = dicom::is_private(e.tag) &&
                          ((el >= 0x0010 && el <= 0x00FF) ||
                           (el >= 0x1000 && !creator.empty() && is_safe_private(dicom::group(e.tag), el & 0xFF, creator)));
        const bool date = e.vr == dicom::vr("DA") || e.vr == dicom::vr("DT");
        if (e.vr == dicom::kUI) {
          for (const std::string& u : split_uids(val))
            if (!is_registry_uid(u)) {
              a.uids.insert(u);
              if (std::string p = parent_of(u); !p.empty()) a.roots.insert(p);
            }
          return;
        }
        if (!is_text_vr(e.vr) || !row_for(e.tag)) return;
        const std::string text = trimmed(val);
        // Multiple values are searched one by one, names by component too.
        std::string cur;
        for (char c : text + '\\') {
          if (c == '\\') {
            add(trimmed(std::span(reinterpret_cast<const std::uint8_t*>(cur.data()), cur.size())), e.tag, safe, date);
            if (e.vr == dicom::vr("PN"))
              for (auto& part : name_components(cur)) add(part, e.tag, safe, date);
            cur.clear();
          } else {
            cur += c;
          }
        }
      },
      [](const dicom::Element&) {}, [](const dicom::Element&) {});
  walk_all(d, v);
}

Options recorded_options(std::span<const std::uint8_t> file, bool& found) {
  const Dataset d = open_dataset(file);
  found = false;
  if (!d.error.empty()) return {};
  const Recorded r = read_recorded(d);
  found = r.identity_removed && r.codes && r.basic;
  return r.options;
}

Record verify_file(const std::string& path, std::span<const std::uint8_t> file, const Against* against) {
  Record rec;
  rec.type = "verify";
  rec.fields["path"] = path;
  const Dataset d = open_dataset(file);
  if (!d.error.empty()) {
    rec.status = part10::has_marker(file) ? "error" : "not-dicom";
    rec.fields["status"] = rec.status;
    rec.fields["error"] = d.error;
    return rec;
  }
  const Recorded r = read_recorded(d);
  const Options& o = r.options;
  rec.fields["options"] = option_names(o);
  rec.fields["deidentified"] = r.identity_removed && r.codes && r.basic;

  auto finding = [&](const char* check, nlohmann::json ev, std::string title = {}) {
    rec.findings.push_back(make_finding(check, path, std::move(ev), std::move(title)));
  };
  if (!(r.identity_removed && r.codes && r.basic))
    finding("deid.residual.attribute",
            {{"tags", {"(0012,0062)"}},
             {"count", 1},
             {"reason", r.identity_removed ? "no De-identification Method Code Sequence with 113100"
                                           : "Patient Identity Removed is not YES"}},
            "The file does not record that it was de-identified (PS3.15 E.3: (0012,0062) YES and (0012,0064))");

  // Attribute by attribute, at every depth.
  std::uint64_t attributes = 0, uids = 0;
  std::map<std::string, std::uint64_t> residual_attr, residual_private, residual_uid;  // tag -> count
  std::string modality;
  std::optional<std::string> burned;
  // Compound codes are resolved as deid resolves them: by the Type of a top-level attribute in the IOD.
  const std::string sop_class = d.meta.sop_class;
  auto type_of = [&](const dicom::Element& e) {
    return e.depth == 0 ? attribute_type(sop_class, e.tag) : AttributeType::unknown;
  };
  auto judge_uid = [&](const dicom::Element& e, const std::string& u, Action act) {
    ++uids;
    if (u.empty() || is_registry_uid(u) || o.retain_uids) return;
    bool bad = act == Action::uid && u.rfind("2.25.", 0) != 0;
    if (against && !bad) {
      bad = against->uids.count(u) > 0;
      for (std::string p = parent_of(u); !bad && !p.empty(); p = parent_of(p)) bad = against->roots.count(p) > 0;
    }
    if (bad) ++residual_uid[dicom::tag_string(e.tag)];
  };
  Elements v(
      [&](const dicom::Element& e, std::span<const std::uint8_t> val, const std::string& creator) {
        if (e.fragment) return;
        ++attributes;
        if (e.depth == 0 && e.tag == kModality) modality = trimmed(val);
        if (e.depth == 0 && e.tag == kBurnedInAnnotation) burned = trimmed(val);
        if (dicom::is_private(e.tag)) {
          const std::uint16_t el = dicom::element(e.tag);
          const bool creator_element = el >= 0x0010 && el <= 0x00FF;
          const bool safe = o.retain_safe_private &&
                            (creator_element || (el >= 0x1000 && !creator.empty() &&
                                                 is_safe_private(dicom::group(e.tag), el & 0xFF, creator)));
          if (!safe && el != 0x0000) ++residual_private[dicom::tag_string(e.tag)];
          return;
        }
        const Row* row = row_for(e.tag);
        const Action act = row ? action_for(e.tag, o, type_of(e)) : Action::keep;
        if (row && act == Action::remove) ++residual_attr[dicom::tag_string(e.tag)];
        if (row && act == Action::empty && !val.empty() && !pseudonym_allowed(e.tag))
          ++residual_attr[dicom::tag_string(e.tag)];
        if (e.vr == dicom::kUI && !e.truncated)
          for (const std::string& u : split_uids(val)) judge_uid(e, u, act);
      },
      [&](const dicom::Element& e) {
        if (dicom::is_private(e.tag)) {
          if (!o.retain_safe_private) ++residual_private[dicom::tag_string(e.tag)];
          return;
        }
        if (row_for(e.tag) && action_for(e.tag, o, type_of(e)) == Action::remove)
          ++residual_attr[dicom::tag_string(e.tag)];
      },
      [&](const dicom::Element& e) {
        // An item in a sequence the table empties (Z) is a residual too.
        if (!dicom::is_private(e.parent) && row_for(e.parent) && action_for(e.parent, o) == Action::empty)
          ++residual_attr[dicom::tag_string(e.parent)];
      });
  const dicom::WalkResult w = walk_all(d, v);
  // The File Meta group's Media Storage SOP Instance UID follows the SOP Instance UID's rule.
  if (!d.meta.sop_instance.empty()) {
    dicom::Element meta_uid{};
    meta_uid.tag = dicom::tag(0x0002, 0x0003);
    judge_uid(meta_uid, d.meta.sop_instance, action_for(dicom::kSOPInstanceUID, o));
  }
  // One finding per check and file: the tags (the first 32), how many, and the first few in the title.
  auto tags_of = [](const std::map<std::string, std::uint64_t>& m, std::uint64_t& total, std::string& first) {
    nlohmann::json tags = nlohmann::json::array();
    total = 0;
    for (const auto& [tag, n] : m) {
      if (tags.size() < 32) tags.push_back(tag);
      if (tags.size() <= 4) first += (first.empty() ? "" : ", ") + tag;
      total += n;
    }
    if (m.size() > 4) first += fmt::format(" and {} more", m.size() - 4);
    return tags;
  };
  std::uint64_t total = 0;
  std::string first;
  if (!residual_attr.empty()) {
    nlohmann::json tags = tags_of(residual_attr, total, first);
    finding("deid.residual.attribute", {{"tags", tags}, {"count", total}},
            fmt::format("{} attribute{} present against Table E.1-1 under the options the file records: {}",
                        residual_attr.size(), residual_attr.size() == 1 ? "" : "s", first));
  }
  if (!residual_private.empty()) {
    first.clear();
    nlohmann::json tags = tags_of(residual_private, total, first);
    finding("deid.residual.private", {{"tags", tags}, {"count", total}, {"retain_safe_private", o.retain_safe_private}},
            fmt::format("{} private attribute{} {}: {}", total, total == 1 ? "" : "s",
                        o.retain_safe_private ? "outside the Safe Private list" : "kept without --retain-safe-private",
                        first));
  }
  if (!residual_uid.empty()) {
    first.clear();
    nlohmann::json tags = tags_of(residual_uid, total, first);
    finding("deid.residual.uid", {{"tags", tags}, {"count", total}},
            fmt::format("{} UID{} {}: {}", total, total == 1 ? "" : "s",
                        against ? "of the input, or under one of its roots" : "not replaced", first));
  }

  if (against) {
    // Every byte of the output (the inflated dataset of a deflated file), whatever the walk made of it.
    std::map<std::string, std::uint64_t> found;  // tag -> needles found
    const std::span<const std::uint8_t> hay = d.inflated.empty() ? file : std::span<const std::uint8_t>(d.inflated);
    for (const auto& n : against->needles) {
      if (row_for(n.tag) && action_for(n.tag, o) == Action::keep) continue;  // retained by an option the file records
      if (n.safe_private && o.retain_safe_private) continue;
      // Shifted dates: a whole-day shift can land on another input date, and an unshifted date cannot be told from
      // a shifted one without the key, so dates are not searched for (their attributes are still checked).
      if (n.date && o.retain_long_modified_dates) continue;
      if (contains_value(hay, n.text)) ++found[dicom::tag_string(n.tag)];
    }
    rec.fields["values_searched"] = against->needles.size();
    if (!found.empty()) {
      first.clear();
      nlohmann::json tags = tags_of(found, total, first);
      finding("deid.residual.value", {{"source_tags", tags}, {"count", total}},
              fmt::format("{} value{} of the input found in the output's bytes, from {}", total, total == 1 ? "" : "s",
                          first));
    }
  }

  if (burned_in_suspected(modality, burned))
    finding("deid.burned-in.suspected",
            {{"modality", modality.size() <= 16 ? modality : modality.substr(0, 16)},
             {"burned_in_annotation", burned ? (*burned == "YES" ? "YES" : "other") : "absent"}},
            burned && *burned == "YES" ? "Burned In Annotation is YES: the pixels may show patient data"
                                       : "Modality " + modality + " usually carries burned-in text, and the file does not say it has none");

  rec.fields["attributes"] = attributes;
  rec.fields["uids"] = uids;
  rec.fields["walk_complete"] = !w.fatal;
  rec.status = rec.findings.empty() ? "clean" : "residual";
  rec.fields["status"] = rec.status;
  if (w.fatal) rec.note("verify.walk-stopped", {{"offset", w.end}});
  return rec;
}

}  // namespace dg::deid
