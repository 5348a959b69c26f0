#include "deid/rewrite.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>

#include "deid/safe_private.h"
#include "dicom/dictionary.h"
#include "dicom/part10.h"
#include "dicom/uids.h"
#include "dicom/walker.h"
#include "dicom/writer.h"

namespace dg::deid {

using namespace dg::dicom;

const char* const kImplementationClassUid = "2.25.90057063866334368661004379233435413528";

const char* status_name(Status s) {
  switch (s) {
    case Status::written: return "written";
    case Status::quarantined: return "quarantined";
    case Status::refused: return "refused";
    case Status::skipped: return "skipped";
    case Status::error: return "error";
  }
  return "error";
}

std::vector<std::pair<std::string, std::string>> method_codes(const Options& o) {
  std::vector<std::pair<std::string, std::string>> c{{"113100", "Basic Application Confidentiality Profile"}};
  if (o.clean_graphics) c.emplace_back("113103", "Clean Graphics Option");
  if (o.clean_structured_content) c.emplace_back("113104", "Clean Structured Content Option");
  if (o.clean_descriptors) c.emplace_back("113105", "Clean Descriptors Option");
  if (o.retain_long_full_dates) c.emplace_back("113106", "Retain Longitudinal Temporal Information Full Dates Option");
  if (o.retain_long_modified_dates)
    c.emplace_back("113107", "Retain Longitudinal Temporal Information Modified Dates Option");
  if (o.retain_patient_characteristics) c.emplace_back("113108", "Retain Patient Characteristics Option");
  if (o.retain_device_identity) c.emplace_back("113109", "Retain Device Identity Option");
  if (o.retain_uids) c.emplace_back("113110", "Retain UIDs Option");
  if (o.retain_safe_private) c.emplace_back("113111", "Retain Safe Private Option");
  if (o.retain_institution_identity) c.emplace_back("113112", "Retain Institution Identity Option");
  return c;
}

std::vector<std::string> method_values(const Plan& plan) {
  std::vector<std::string> v{"dicomguard 0.1.0", "PS3.15 Annex E basic profile"};
  for (const std::string& o : option_names(plan.options)) v.push_back(o);
  if (plan.options.retain_long_modified_dates) v.push_back("date-shift-range " + std::to_string(plan.date_shift_range));
  const auto h = hmac(plan.key, "key-check", "");
  v.push_back("key check " + to_hex(h.data(), 4));
  return v;
}

namespace {

struct Item;
// One element of the dataset as read, and what the rewrite makes of it.
struct Node {
  Tag tag = 0;
  VR vr = 0;
  enum class Kind : std::uint8_t { value, sequence, fragments, group_length } kind = Kind::value;
  bool undefined = false;                   // sequences: written with undefined length (as read)
  std::span<const std::uint8_t> value;      // values (and the first bytes of nothing else)
  std::vector<Item> items;                  // sequences
  std::vector<std::span<const std::uint8_t>> fragments;  // encapsulated pixel data
  bool drop = false;
  bool replaced = false;                    // write `text` (or `binary`) instead of value
  std::string text;
  std::vector<std::uint8_t> binary;
};
struct Item {
  bool undefined = false;
  std::vector<Node> nodes;
};

// Builds the tree of the dataset; values stay spans of the input.
class TreeBuilder : public Visitor {
 public:
  std::vector<Node> root;
  void element(const Element& e, std::span<const std::uint8_t> value) override {
    if (e.fragment) {
      if (!seqs_.empty()) seqs_.back()->fragments.push_back(value);
      return;
    }
    Node n;
    n.tag = e.tag;
    n.vr = e.vr;
    n.value = value;
    if (element(e.tag) == 0) n.kind = Node::Kind::group_length;
    cur()->push_back(std::move(n));
  }
  void sequence(const Element& e) override {
    Node n;
    n.tag = e.tag;
    n.vr = e.vr;
    n.undefined = e.length == kUndefinedLength;
    n.kind = (e.vr == kSQ || e.vr == kUN || !(e.tag == kPixelData || e.tag == kFloatPixelData ||
                                              e.tag == kDoubleFloatPixelData))
                 ? Node::Kind::sequence
                 : Node::Kind::fragments;
    if (e.vr != kSQ && e.vr != kUN && n.kind == Node::Kind::sequence) n.vr = kUN;  // implicit unknown
    cur()->push_back(std::move(n));
    seqs_.push_back(&cur()->back());
    in_item_.push_back(false);
  }
  void item(const Element& e) override {
    if (seqs_.empty()) return;
    seqs_.back()->items.push_back(Item{e.length == kUndefinedLength, {}});
    items_.push_back(&seqs_.back()->items.back().nodes);
    in_item_.back() = true;
  }
  void item_end(std::uint64_t) override {
    if (!items_.empty()) items_.pop_back();
    if (!in_item_.empty()) in_item_.back() = false;
  }
  void sequence_end(std::uint64_t) override {
    if (!seqs_.empty()) seqs_.pop_back();
    if (!in_item_.empty()) in_item_.pop_back();
  }

 private:
  std::vector<Node*> seqs_;
  std::vector<std::vector<Node>*> items_;
  std::vector<bool> in_item_;
  static Tag element(Tag t) { return dicom::element(t); }
  std::vector<Node>* cur() { return items_.empty() ? &root : items_.back(); }
};

std::string_view text_of(std::span<const std::uint8_t> v) {
  std::string_view s(reinterpret_cast<const char*>(v.data()), v.size());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t p = s.find('\\', start);
    std::string_view part = s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\0')) part.remove_suffix(1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    out.push_back(part);
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

bool is_text_vr(VR v) {
  switch (v) {
    case vr("AE"): case vr("AS"): case vr("CS"): case vr("DA"): case vr("DS"): case vr("DT"): case vr("IS"):
    case vr("LO"): case vr("LT"): case vr("PN"): case vr("SH"): case vr("ST"): case vr("TM"): case vr("UC"):
    case vr("UR"): case vr("UT"): case vr("UI"):
      return true;
    default:
      return false;
  }
}

// The dummy text of a text VR (docs/deid.md lists them).
std::string dummy_text(VR v) {
  switch (v) {
    case vr("DA"): return "19000101";
    case vr("DT"): return "19000101000000";
    case vr("TM"): return "000000";
    case vr("DS"): case vr("IS"): return "0";
    case vr("AS"): return "000Y";
    case vr("UR"): return "";
    default: return "ANONYMOUS";  // AE, CS, LO, LT, PN, SH, ST, UC, UT: fits every max length (AE/CS/SH: 16)
  }
}

class Deidentifier {
 public:
  Deidentifier(const Plan& p, Result& r) : plan_(p), res_(r) {}

  int shift = 0;                // days, under retain_long_modified_dates
  std::string sop_class;        // of the instance: the Types of its IOD resolve compound codes at the top level
  std::string patient_id;       // the input's top-level Patient ID (never output)

  void apply(std::vector<Node>& nodes, int depth) {
    // Sorted and without duplicates (first kept), whatever order the input had.
    std::stable_sort(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) { return a.tag < b.tag; });
    for (std::size_t i = 1; i < nodes.size(); ++i)
      if (nodes[i].tag == nodes[i - 1].tag) nodes[i].drop = true;
    // Private creators of this dataset or item: (group, block) -> creator.
    std::map<std::pair<std::uint16_t, std::uint8_t>, std::string> creators;
    std::map<std::pair<std::uint16_t, std::uint8_t>, Node*> creator_nodes;
    std::map<std::pair<std::uint16_t, std::uint8_t>, bool> block_kept;
    for (Node& n : nodes) {
      if (n.drop || !is_private(n.tag)) continue;
      const std::uint16_t e = element(n.tag);
      if (e >= 0x10 && e <= 0xFF && n.kind == Node::Kind::value) {
        const auto k = std::make_pair(group(n.tag), static_cast<std::uint8_t>(e));
        creators[k] = std::string(text_of(n.value));
        creator_nodes[k] = &n;
      }
    }
    // A coded entry of a standard terminology (DICOM, SNOMED, LOINC, UCUM, ...) is terminology, kept inside D and C
    // sequences so that a structured report keeps its concept names; a local scheme's code meaning may be anything
    // (a person's name in a Person Identification Code Sequence) and is replaced like other free text.
    bool standard_code = false;
    for (const Node& n : nodes)
      if (!n.drop && n.tag == tag(0x0008, 0x0102) && n.kind == Node::Kind::value)
        standard_code = is_standard_scheme(text_of(n.value));
    for (Node& n : nodes) {
      if (n.drop) continue;
      if (n.kind == Node::Kind::group_length) continue;  // written again by the writer when its group stays
      if (group(n.tag) == 0x0002) {                       // File Meta elements inside a dataset
        remove(n);
        continue;
      }
      if (is_private(n.tag)) {
        const std::uint16_t e = element(n.tag);
        if (e >= 0x10 && e <= 0xFF && n.kind == Node::Kind::value) continue;  // creators: decided below
        bool keep = false;
        if (plan_.options.retain_safe_private && e >= 0x1000) {
          const auto k = std::make_pair(group(n.tag), static_cast<std::uint8_t>(e >> 8));
          auto it = creators.find(k);
          if (it != creators.end() && is_safe_private(group(n.tag), static_cast<std::uint8_t>(e & 0xFF), it->second)) {
            keep = true;
            block_kept[k] = true;
          }
        }
        if (keep) {
          ++res_.counts.kept;
          descend(n, depth);
        } else {
          remove(n);
        }
        continue;
      }
      if (!row_for(n.tag) && !lookup(n.tag)) {  // a standard-group tag PS3.6 does not define: unknown, removed
        remove(n);
        continue;
      }
      if (scrub_ && n.kind == Node::Kind::value && !row_for(n.tag) && is_free_text(effective_vr(n)) &&
          !(standard_code && is_coded_entry(n.tag))) {
        dummy(n);  // inside a D or C sequence: free text the table does not list carries no input either
        ++res_.counts.cleaned;
        continue;
      }
      act(n, action_for(n.tag, plan_.options, depth == 0 ? attribute_type(sop_class, n.tag) : AttributeType::unknown),
          depth);
    }
    for (auto& [k, n] : creator_nodes) {
      if (block_kept.count(k)) {
        ++res_.counts.kept;
      } else {
        remove(*n);
      }
    }
    // Group lengths of groups left with no element go too.
    std::map<std::uint16_t, bool> group_alive;
    for (const Node& n : nodes)
      if (!n.drop && n.kind != Node::Kind::group_length) group_alive[group(n.tag)] = true;
    for (Node& n : nodes)
      if (n.kind == Node::Kind::group_length && (!group_alive.count(group(n.tag)) || group(n.tag) == 0x0002))
        n.drop = true;
  }

 private:
  const Plan& plan_;
  Result& res_;

  void remove(Node& n) {
    n.drop = true;
    ++res_.counts.removed;
  }
  int scrub_ = 0;  // > 0 inside a sequence replaced (D) or cleaned (C) as a whole
  void descend(Node& n, int depth, bool scrub = false) {
    if (n.kind != Node::Kind::sequence) return;
    scrub_ += scrub;
    for (Item& it : n.items) apply(it.nodes, depth + 1);
    scrub_ -= scrub;
  }
  // The attributes of a coded entry (PS3.3 Table 8.8-1: Code Value, Coding Scheme Designator and Version, Code
  // Meaning, Long/URN Code Value, Context Identifier/UID, Mapping Resource...): terminology, not free text.
  static bool is_coded_entry(Tag t) {
    return group(t) == 0x0008 && ((element(t) >= 0x0100 && element(t) <= 0x0107) || element(t) == 0x010B ||
                                  element(t) == 0x010C || element(t) == 0x010D || element(t) == 0x010F ||
                                  (element(t) >= 0x0117 && element(t) <= 0x0123));
  }
  // Coding schemes of PS3.16 Table 8-1 that name published terminologies (not "99..." local ones).
  static bool is_standard_scheme(std::string_view s) {
    static constexpr std::string_view kSchemes[] = {"DCM",  "SCT",   "SRT",  "LN",    "UCUM",  "FMA",   "NCIt",
                                                    "RADLEX", "UMLS", "I10",  "I9C",   "ICD10", "MDC",   "NCDR",
                                                    "NEU",  "SNM3",  "ACR",  "BI",    "ITIS_TSN", "DCMUID", "RXNORM"};
    for (std::string_view k : kSchemes)
      if (s == k) return true;
    return false;
  }
  static bool is_free_text(VR v) {
    switch (v) {
      case vr("LO"): case vr("LT"): case vr("PN"): case vr("SH"): case vr("ST"): case vr("UC"): case vr("UT"):
      case vr("DA"): case vr("DT"): case vr("AE"):
        return true;
      default:
        return false;
    }
  }
  // The VR that decides a replacement's form: the dictionary's for UN.
  static VR effective_vr(const Node& n) {
    if (n.vr == kUN)
      if (const DictEntry* d = lookup(n.tag)) return d->codes[0];
    return n.vr;
  }
  void set_text(Node& n, std::string t) {
    // A UN value replaced by text is written with the dictionary's VR (padded as that VR is).
    if (n.vr == kUN && is_text_vr(effective_vr(n))) n.vr = effective_vr(n);
    n.replaced = true;
    n.text = std::move(t);
    n.binary.clear();
  }
  void zero_binary(Node& n) {
    n.replaced = true;
    n.text.clear();
    n.binary.assign(n.value.size(), 0);
  }
  std::string map_uids(std::string_view value) {
    std::string out;
    bool first = true;
    for (std::string_view u : split(value)) {
      if (!first) out.push_back('\\');
      first = false;
      if (u.empty()) continue;
      std::string m = map_uid(plan_.key, u);
      if (plan_.linkage && m != u) res_.linkage.emplace_back(std::string(u), m);
      out += m;
    }
    return out;
  }
  std::string pseudonym(std::string_view id, std::size_t max_len) {
    std::string m = map_id(plan_.key, id, max_len);
    if (plan_.linkage) res_.linkage.emplace_back(std::string(id), m);
    return m;
  }
  // D and C without a date to shift: a dummy of the VR.
  void dummy(Node& n) {
    const VR v = effective_vr(n);
    if (v == kUI) set_text(n, map_uids(text_of(n.value)));
    else if (is_text_vr(v)) set_text(n, dummy_text(v));
    else zero_binary(n);
  }
  bool shift_dates(Node& n) {
    const VR v = effective_vr(n);
    if (v == vr("TM")) return true;  // whole-day shifts leave times as they are
    if (v != vr("DA") && v != vr("DT")) return false;
    std::string out;
    bool first = true;
    for (std::string_view d : split(text_of(n.value))) {
      if (!first) out.push_back('\\');
      first = false;
      if (d.empty()) continue;
      std::string s = v == vr("DA") ? shift_da(d, shift) : shift_dt(d, shift);
      if (s.empty()) return false;
      out += s;
    }
    set_text(n, std::move(out));
    return true;
  }

  void act(Node& n, Action a, int depth) {
    const bool seq = n.kind == Node::Kind::sequence;
    // Patient ID and Patient's Name become the keyed pseudonym of the Patient ID unless removed or kept.
    if ((n.tag == tag(0x0010, 0x0020) || n.tag == tag(0x0010, 0x0010)) && n.kind == Node::Kind::value &&
        a != Action::remove && a != Action::keep) {
      const std::string_view id = n.tag == tag(0x0010, 0x0020) ? text_of(n.value) : std::string_view(patient_id);
      if (id.empty()) {
        set_text(n, "");
        ++res_.counts.emptied;
      } else {
        set_text(n, pseudonym(id, 16));
        ++res_.counts.replaced;
      }
      return;
    }
    switch (a) {
      case Action::keep:
        if (row_for(n.tag)) ++res_.counts.kept;
        descend(n, depth);
        return;
      case Action::remove:
        remove(n);
        return;
      case Action::empty:
        ++res_.counts.emptied;
        if (seq) n.items.clear();
        else if (n.kind == Node::Kind::fragments) n.drop = true;
        else set_text(n, "");
        return;
      case Action::dummy:
        ++res_.counts.replaced;
        if (seq) descend(n, depth, true);
        else if (n.kind == Node::Kind::value) dummy(n);
        return;
      case Action::uid:
        ++res_.counts.replaced;
        if (n.kind == Node::Kind::value) set_text(n, map_uids(text_of(n.value)));
        else descend(n, depth);
        return;
      case Action::clean:
        ++res_.counts.cleaned;
        if (seq) {
          descend(n, depth, true);
        } else if (n.kind == Node::Kind::value) {
          if (!(plan_.options.retain_long_modified_dates && shift_dates(n))) dummy(n);
        }
        return;
    }
  }
};

// The nodes' bytes through the writer.
// Where large top-level values are left as holes (Result::holes): the input they are spans of, and the output.
struct Bulk {
  std::span<const std::uint8_t> file;
  std::uint64_t min = 0;  // 0: no holes
  std::vector<std::uint8_t>* out = nullptr;
  std::vector<Result::Hole>* holes = nullptr;
};

void write_nodes(ElementWriter& w, const std::vector<Node>& nodes, const Bulk& bulk = {}, bool top = false) {
  bool group_open = false;
  std::uint16_t open_group = 0;
  for (const Node& n : nodes) {
    if (n.drop) continue;
    if (group_open && group(n.tag) != open_group) {
      w.end_group();
      group_open = false;
    }
    switch (n.kind) {
      case Node::Kind::group_length:
        if (!group_open) {
          w.begin_group(group(n.tag));
          group_open = true;
          open_group = group(n.tag);
        }
        break;
      case Node::Kind::value:
        if (top && bulk.min && !group_open && w.open() == 0 && !n.replaced && n.value.size() >= bulk.min &&
            n.value.size() % 2 == 0 && n.value.size() < kUndefinedLength && n.value.data() >= bulk.file.data() &&
            n.value.data() + n.value.size() <= bulk.file.data() + bulk.file.size() &&
            (n.vr == kOB || n.vr == kOW || n.vr == kUN || n.vr == kOF || n.vr == kOD || n.vr == kOL ||
             n.vr == kOV || !w.encoding().explicit_vr)) {
          w.header(n.tag, n.vr, static_cast<std::uint32_t>(n.value.size()));
          bulk.holes->push_back({bulk.out->size(), static_cast<std::uint64_t>(n.value.data() - bulk.file.data()),
                                 n.value.size()});
          break;
        }
        if (n.replaced && n.binary.empty()) w.element(n.tag, n.vr, std::string_view(n.text));
        else if (n.replaced) w.element(n.tag, n.vr, std::span<const std::uint8_t>(n.binary));
        else w.element(n.tag, n.vr, n.value);
        break;
      case Node::Kind::sequence:
        w.begin_sequence(n.tag, n.undefined ? Length::undefined : Length::defined, n.vr);
        for (const Item& it : n.items) {
          w.begin_item(it.undefined ? Length::undefined : Length::defined);
          write_nodes(w, it.nodes);
          w.end_item();
        }
        w.end_sequence();
        break;
      case Node::Kind::fragments:
        w.begin_sequence(n.tag, Length::undefined, n.vr);
        for (const auto& f : n.fragments) w.fragment(f);
        w.end_sequence();
        break;
    }
  }
  if (group_open) w.end_group();
}

Node text_node(Tag t, VR v, std::string text) {
  Node n;
  n.tag = t;
  n.vr = v;
  n.replaced = true;
  n.text = std::move(text);
  return n;
}

void insert_sorted(std::vector<Node>& nodes, Node n) {
  for (Node& o : nodes)
    if (o.tag == n.tag && o.kind != Node::Kind::group_length) o.drop = true;
  auto it = std::upper_bound(nodes.begin(), nodes.end(), n.tag, [](Tag t, const Node& o) { return t < o.tag; });
  nodes.insert(it, std::move(n));
}

const Node* find_top(const std::vector<Node>& nodes, Tag t) {
  for (const Node& n : nodes)
    if (n.tag == t && n.kind == Node::Kind::value) return &n;
  return nullptr;
}

bool deflate_raw(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  const std::size_t start = out.size();
  out.resize(start + deflateBound(&z, in.size()) + 16);
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data() + start;
  z.avail_out = static_cast<uInt>(out.size() - start);
  const int rc = deflate(&z, Z_FINISH);
  const std::size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return false;
  out.resize(start + produced);
  return true;
}

}  // namespace

bool burned_in_suspected(std::string_view modality, std::optional<std::string_view> burned_in_annotation) {
  static constexpr const char* kUsual[] = {"US", "SC", "XC", "ES", "OT", "GM", "DOC", "IVUS", "OP", "SM", "ECG"};
  if (burned_in_annotation) return *burned_in_annotation == "YES";
  for (const char* x : kUsual)
    if (modality == x) return true;
  return false;
}

Result deidentify(std::span<const std::uint8_t> file, const Plan& plan) {
  Result res;
  auto refuse = [&](std::string why) {
    res.status = Status::refused;
    res.reason = std::move(why);
    res.bytes.clear();
    res.holes.clear();
    res.linkage.clear();
    return std::move(res);
  };
  try {
    std::string sop_class, sop_instance, ts_uid;
    Encoding enc = kExplicitLittle;
    bool deflated = false, guessed_ts = false;
    std::span<const std::uint8_t> dataset;
    std::vector<std::uint8_t> inflated;
    std::uint64_t origin = 0;
    if (part10::has_marker(file)) {
      const part10::FileMeta meta = part10::read_meta(file);
      if (meta.walk.fatal) return refuse("the File Meta group does not parse");
      sop_class = meta.sop_class;
      sop_instance = meta.sop_instance;
      if (sop_class == "1.2.840.10008.1.3.10") return refuse("a DICOMDIR (media directory): not de-identified");
      origin = meta.dataset_start;
      dataset = file.subspan(std::min<std::size_t>(meta.dataset_start, file.size()));
      if (meta.transfer_syntax_usable()) {
        ts_uid = meta.transfer_syntax_uid;
        enc = {meta.transfer_syntax.explicit_vr, meta.transfer_syntax.big_endian};
        deflated = meta.transfer_syntax.deflated;
      } else {  // no usable transfer syntax: the one the bytes show, when the pixel data is native (checked below)
        enc = part10::sniff_encoding(dataset);
        if (!enc.explicit_vr && enc.big_endian) return refuse("no transfer syntax, and the dataset looks implicit VR big endian");
        ts_uid = !enc.explicit_vr ? uids::kImplicitLE : enc.big_endian ? uids::kExplicitBE : uids::kExplicitLE;
        guessed_ts = true;
      }
      if (deflated) {
        part10::InflateStream in(dataset, plan.max_inflated);
        std::uint8_t buf[65536];
        for (std::size_t n; (n = in.read(buf)) > 0;) inflated.insert(inflated.end(), buf, buf + n);
        if (in.limit()) return refuse("the deflated dataset inflates past the limit");
        if (in.inflater().state() != util::Inflater::State::done) return refuse("the deflated dataset is corrupt");
        dataset = inflated;
        origin = 0;
      }
    } else {
      TreeBuilder probe;
      auto w = part10::walk_raw_dataset(file, [&](std::size_t, Encoding) -> Visitor& {
        probe = TreeBuilder();
        return probe;
      });
      if (!w) {
        res.status = Status::skipped;
        res.reason = "not a DICOM file";
        return res;
      }
      enc = w->encoding;
      ts_uid = !enc.explicit_vr ? uids::kImplicitLE : enc.big_endian ? uids::kExplicitBE : uids::kExplicitLE;
      dataset = file;
    }

    // A dataset whose bytes are in another encoding than the one declared (implicit VR labelled explicit) is
    // read as the bytes are and written as declared, when the byte order is the same.
    TreeBuilder tbs[4];
    part10::DatasetWalk dw = part10::walk_dataset(dataset, origin, enc, [&](std::size_t a, Encoding) -> Visitor& {
      return tbs[std::min<std::size_t>(a, 3)];
    });
    if (dw.fallback && dw.encoding.big_endian != enc.big_endian)
      return refuse("the dataset's byte order is not the one its transfer syntax declares");
    TreeBuilder& tb = tbs[std::min<std::size_t>(dw.attempt, 3)];
    const WalkResult& w = dw.walk;
    if (w.fatal && !part10::ends_at_trailing_data(w)) {
      const Issue& i = w.issues.back();
      return refuse(std::string("the dataset does not parse (") + problem_name(i.problem) + " at " +
                    tag_string(i.tag) + ")");
    }
    std::vector<Node>& root = tb.root;
    if (sop_class.empty())
      if (const Node* n = find_top(root, kSOPClassUID)) sop_class = std::string(text_of(n->value));
    if (sop_instance.empty())
      if (const Node* n = find_top(root, kSOPInstanceUID)) sop_instance = std::string(text_of(n->value));
    if (sop_class == "1.2.840.10008.1.3.10") return refuse("a DICOMDIR (media directory): not de-identified");
    if (root.empty()) return refuse("the dataset is empty");
    if (guessed_ts)
      for (const Node& n : root)
        if (n.kind == Node::Kind::fragments) return refuse("encapsulated pixel data and no transfer syntax to name it");

    // Burned-in annotation (Clean Pixel Data is not done here: such instances are set apart).
    std::optional<std::string_view> annotation;
    if (const Node* b = find_top(root, tag(0x0028, 0x0301))) annotation = text_of(b->value);
    const Node* m = find_top(root, tag(0x0008, 0x0060));
    const bool burned = burned_in_suspected(m ? text_of(m->value) : std::string_view(), annotation);
    if (burned && plan.burned_in == BurnedIn::fail)
      return refuse("burned-in annotation (declared, or usual for the modality) and --burned-in fail");

    Deidentifier d(plan, res);
    d.sop_class = sop_class;
    if (const Node* p = find_top(root, tag(0x0010, 0x0020))) d.patient_id = std::string(text_of(p->value));
    if (plan.options.retain_long_modified_dates) d.shift = date_shift_days(plan.key, d.patient_id, plan.date_shift_range);
    d.apply(root, 0);

    // PS3.15 E.3: what was done, said in the dataset.
    insert_sorted(root, text_node(tag(0x0012, 0x0062), kCS, "YES"));
    std::string method;
    for (const std::string& v : method_values(plan)) method += (method.empty() ? "" : "\\") + v;
    insert_sorted(root, text_node(tag(0x0012, 0x0063), kLO, method));
    Node codes;
    codes.tag = tag(0x0012, 0x0064);
    codes.vr = kSQ;
    codes.kind = Node::Kind::sequence;
    for (const auto& [value, meaning] : method_codes(plan.options)) {
      Item it;
      it.nodes.push_back(text_node(tag(0x0008, 0x0100), vr("SH"), value));
      it.nodes.push_back(text_node(tag(0x0008, 0x0102), vr("SH"), "DCM"));
      it.nodes.push_back(text_node(tag(0x0008, 0x0104), kLO, meaning));
      codes.items.push_back(std::move(it));
    }
    insert_sorted(root, std::move(codes));
    insert_sorted(root, text_node(tag(0x0028, 0x0303), kCS,
                                  plan.options.retain_long_modified_dates ? "MODIFIED"
                                  : plan.options.retain_long_full_dates   ? "UNMODIFIED"
                                                                          : "REMOVED"));

    // File Meta group, then the dataset appended after it (deflated: encoded apart, then deflated after it).
    // Media Storage SOP Class/Instance UID: those the output dataset holds (so they always agree), else the
    // input meta group's, the instance mapped like SOP Instance UID.
    std::string new_instance = sop_instance;
    if (!plan.options.retain_uids && !sop_instance.empty()) new_instance = map_uid(plan.key, sop_instance);
    auto out_value = [&](Tag t) -> std::string {
      for (const Node& n : root)
        if (n.tag == t && !n.drop && n.kind == Node::Kind::value)
          return n.replaced ? std::string(text_of(std::span<const std::uint8_t>(
                                  reinterpret_cast<const std::uint8_t*>(n.text.data()), n.text.size())))
                            : std::string(text_of(n.value));
      return {};
    };
    if (std::string v = out_value(kSOPInstanceUID); !v.empty()) new_instance = v;
    if (std::string v = out_value(kSOPClassUID); !v.empty()) sop_class = v;
    res.bytes.assign(part10::kMetaOffset, 0);
    std::memcpy(res.bytes.data() + part10::kPreambleSize, "DICM", 4);
    {
      ElementWriter mw(res.bytes, kExplicitLittle);
      mw.begin_group(0x0002);
      const std::uint8_t version[2] = {0, 1};
      mw.element(tag(2, 1), kOB, std::span<const std::uint8_t>(version));
      if (!sop_class.empty()) mw.element(tag(2, 2), kUI, std::string_view(sop_class));
      if (!new_instance.empty()) mw.element(tag(2, 3), kUI, std::string_view(new_instance));
      mw.element(tag(2, 0x10), kUI, std::string_view(ts_uid));
      mw.element(tag(2, 0x12), kUI, std::string_view(kImplementationClassUid));
      mw.element(tag(2, 0x13), vr("SH"), std::string_view(kImplementationVersion));
      mw.end_group();
      if (!mw.finish()) return refuse("the File Meta group cannot be written");
    }
    const std::size_t ds_start = res.bytes.size();
    std::vector<std::uint8_t> apart;
    std::vector<std::uint8_t>& ds_out = deflated ? apart : res.bytes;
    {
      ElementWriter out(ds_out, enc);
      Bulk bulk{file, deflated ? 0 : plan.bulk_min, &res.bytes, &res.holes};
      write_nodes(out, root, bulk, true);
      if (!out.finish()) return refuse("a value cannot be written in this encoding (too long for its length field)");
    }
    // The output must walk cleanly.
    {
      struct Nothing : Visitor {
        void element(const Element&, std::span<const std::uint8_t>) override {}
      } nothing;
      std::span<const std::uint8_t> written(ds_out);
      if (!deflated) written = written.subspan(ds_start);
      if (res.holes.empty()) {
        if (walk(written, 0, enc, nothing).fatal) return refuse("the rewritten dataset does not walk cleanly");
      } else {
        // The bytes with zeros for the holes: the same structure, without reading the bulk values.
        struct Holey : ByteStream {
          std::span<const std::uint8_t> b;
          const std::vector<Result::Hole>* holes;
          std::size_t base, pos = 0, hole = 0;
          std::uint64_t in_hole = 0;  // bytes of the current hole given
          std::size_t read(std::span<std::uint8_t> out) override {
            if (hole < holes->size() && pos + base == (*holes)[hole].at && in_hole < (*holes)[hole].length) {
              const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), (*holes)[hole].length - in_hole));
              std::memset(out.data(), 0, n);
              if ((in_hole += n) == (*holes)[hole].length) ++hole, in_hole = 0;
              return n;
            }
            std::size_t lim = b.size();
            if (hole < holes->size()) lim = std::min(lim, (*holes)[hole].at - base);
            const std::size_t n = std::min(out.size(), lim - pos);
            std::memcpy(out.data(), b.data() + pos, n);
            pos += n;
            return n;
          }
        } holey;
        holey.b = written;
        holey.holes = &res.holes;
        holey.base = ds_start;
        StreamWindow win(holey, 1 << 20);
        if (walk(win, 0, enc, nothing).fatal) return refuse("the rewritten dataset does not walk cleanly");
      }
    }
    if (deflated && !deflate_raw(apart, res.bytes)) return refuse("deflate failed");
    res.burned_in = burned && plan.burned_in == BurnedIn::quarantine;
    res.status = res.burned_in ? Status::quarantined : Status::written;
    if (res.burned_in) res.reason = "burned-in annotation (declared, or usual for the modality): pixels not reviewed";
    if (w.fatal) res.reason += std::string(res.reason.empty() ? "" : "; ") + "data after the dataset dropped";
    if (dw.fallback) res.reason += std::string(res.reason.empty() ? "" : "; ") + "re-encoded as its transfer syntax declares";
    std::sort(res.linkage.begin(), res.linkage.end());
    res.linkage.erase(std::unique(res.linkage.begin(), res.linkage.end()), res.linkage.end());
    return res;
  } catch (const std::exception&) {
    return refuse("out of memory or an internal error while rewriting");
  }
}

}  // namespace dg::deid
