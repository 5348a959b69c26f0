#include "dicom/dimse.h"

#include "dicom/tag.h"
#include "dicom/uids.h"
#include "dicom/walker.h"
#include "dicom/writer.h"

namespace dg::dicom::dimse {

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr VR kAE = vr("AE"), kDA = vr("DA"), kPN = vr("PN");

// Command set (implicit VR little endian): the elements in tag order, after (0000,0000) Command Group Length.
Bytes command(const std::string& sop_class, std::uint16_t field, std::uint16_t id, bool dataset,
              const std::string& move_destination = {}, const std::string& sop_instance = {}) {
  return encode(kImplicitLittle, [&](ElementWriter& w) {
    w.begin_group(0x0000);
    w.element(tag(0, 0x0002), kUI, sop_class);
    w.us(tag(0, 0x0100), field);
    w.us(tag(0, 0x0110), id);
    if (!move_destination.empty()) w.element(tag(0, 0x0600), kAE, move_destination);
    if (field != c_echo_rq) w.us(tag(0, 0x0700), 0);  // priority MEDIUM
    w.us(tag(0, 0x0800), dataset ? 0x0000 : 0x0101);
    if (!sop_instance.empty()) w.element(tag(0, 0x1000), kUI, sop_instance);
    w.end_group();
  });
}

// Identifiers and datasets: explicit VR little endian or implicit VR little endian, as the context agreed.
Encoding dataset_encoding(bool explicit_vr) { return explicit_vr ? kExplicitLittle : kImplicitLittle; }

}  // namespace

std::vector<std::uint8_t> response_command(const std::string& sop_class, std::uint16_t field, std::uint16_t responded_id,
                                      std::uint16_t status, bool dataset, int remaining, int completed, int failed,
                                      int warning) {
  return encode(kImplicitLittle, [&](ElementWriter& w) {
    w.begin_group(0x0000);
    w.element(tag(0, 0x0002), kUI, sop_class);
    w.us(tag(0, 0x0100), field);
    w.us(tag(0, 0x0120), responded_id);
    w.us(tag(0, 0x0800), dataset ? 0x0000 : 0x0101);
    w.us(tag(0, 0x0900), status);
    const int counts[4] = {remaining, completed, failed, warning};
    for (int i = 0; i < 4; ++i)
      if (counts[i] >= 0) w.us(tag(0, static_cast<std::uint16_t>(0x1020 + i)), static_cast<std::uint16_t>(counts[i]));
    w.end_group();
  });
}

std::vector<std::uint8_t> echo_rq(std::uint16_t id) { return command(uids::kVerification, c_echo_rq, id, false); }
std::vector<std::uint8_t> find_rq(std::uint16_t id, const std::string& sop_class) {
  return command(sop_class, c_find_rq, id, true);
}
std::vector<std::uint8_t> move_rq(std::uint16_t id, const std::string& sop_class, const std::string& dest) {
  return command(sop_class, c_move_rq, id, true, dest);
}

std::vector<std::uint8_t> get_rq(std::uint16_t id, const std::string& sop_class) {
  return command(sop_class, c_get_rq, id, true);
}

std::vector<std::uint8_t> store_rq(std::uint16_t id, const std::string& sop_class, const std::string& sop_instance) {
  return command(sop_class, c_store_rq, id, true, {}, sop_instance);
}

std::vector<std::uint8_t> test_object(const std::string& study_uid, const std::string& series_uid,
                                      const std::string& instance_uid, bool explicit_vr) {
  return encode(dataset_encoding(explicit_vr), [&](ElementWriter& w) {
    w.element(kSOPClassUID, kUI, uids::kSecondaryCapture);
    w.element(kSOPInstanceUID, kUI, instance_uid);
    w.element(tag(0x0008, 0x0060), kCS, "OT");
    w.element(tag(0x0008, 0x0064), kCS, "WSD");
    w.element(tag(0x0008, 0x1030), kLO, "dicomguard active-store test object - safe to delete");
    w.element(tag(0x0010, 0x0010), kPN, "DICOMGUARD^TEST^OBJECT");
    w.element(tag(0x0010, 0x0020), kLO, "DICOMGUARD-TEST");
    w.element(tag(0x0020, 0x000D), kUI, study_uid);
    w.element(tag(0x0020, 0x000E), kUI, series_uid);
  });
}

std::vector<std::uint8_t> study_identifier(const std::string& patient_id, bool explicit_vr) {
  return encode(dataset_encoding(explicit_vr), [&](ElementWriter& w) {
    w.element(tag(0x0008, 0x0052), kCS, "STUDY");
    w.element(tag(0x0010, 0x0020), kLO, patient_id);
    w.element(tag(0x0020, 0x000D), kUI, "");
  });
}

std::vector<std::uint8_t> move_identifier(const std::string& study_uid, bool explicit_vr,
                                          const std::string& patient_id) {
  return encode(dataset_encoding(explicit_vr), [&](ElementWriter& w) {
    w.element(tag(0x0008, 0x0052), kCS, "STUDY");
    if (!patient_id.empty()) w.element(tag(0x0010, 0x0020), kLO, patient_id);
    w.element(tag(0x0020, 0x000D), kUI, study_uid);
  });
}

std::vector<std::uint8_t> universal_study_identifier(bool explicit_vr) {
  return encode(dataset_encoding(explicit_vr), [&](ElementWriter& w) {
    w.element(tag(0x0008, 0x0052), kCS, "STUDY");
    w.element(tag(0x0020, 0x000D), kUI, "");
  });
}

namespace {
struct CommandReader : Visitor {
  Response& r;
  explicit CommandReader(Response& out) : r(out) {}
  void element(const Element& e, std::span<const std::uint8_t> v) override {
    if (e.depth != 0) return;
    auto str = [&] {
      std::string out(v.begin(), v.begin() + static_cast<long>(std::min<std::size_t>(v.size(), 64)));
      while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
      return out;
    };
    if (e.tag == tag(0, 0x0002)) r.affected_sop_class = str();
    if (e.tag == tag(0, 0x0600)) r.move_destination = str();
    if (e.tag == tag(0, 0x1000)) r.affected_sop_instance = str();
    if (v.size() != 2) return;
    const std::uint16_t x = static_cast<std::uint16_t>(v[0] | v[1] << 8);
    switch (e.tag) {
      case tag(0, 0x0100): r.command_field = x; break;
      case tag(0, 0x0120): r.responded_id = x; break;
      case tag(0, 0x0110): r.message_id = x; break;
      case tag(0, 0x0800): r.has_dataset = x != 0x0101; break;
      case tag(0, 0x0900): r.status = x; r.has_status = true; break;
      case tag(0, 0x1020): r.remaining = x; break;
      case tag(0, 0x1021): r.completed = x; break;
      case tag(0, 0x1022): r.failed = x; break;
      case tag(0, 0x1023): r.warning = x; break;
      default: break;
    }
  }
};
}  // namespace

Response parse_response(std::span<const std::uint8_t> cs) {
  Response r;
  CommandReader reader(r);
  Limits lim;
  lim.max_depth = 4;
  lim.max_elements = 256;
  WalkResult w = walk(cs, 0, Encoding{false, false}, reader, lim);
  if (w.fatal) r.error = std::string("command set: ") + problem_name(w.issues.back().problem);
  else if (!r.has_status && (r.command_field & 0x8000)) r.error = "response without a Status (0000,0900)";
  return r;
}

namespace {
struct IdentifierReader : Visitor {
  Identifier& id;
  explicit IdentifierReader(Identifier& out) : id(out) {}
  void element(const Element& e, std::span<const std::uint8_t> v) override {
    if (e.depth != 0) return;
    std::string s(v.begin(), v.begin() + static_cast<long>(std::min<std::size_t>(v.size(), 64)));
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    switch (e.tag) {
      case tag(0x0008, 0x0052): id.level = s; break;
      case tag(0x0010, 0x0010): id.patient_name = s; break;
      case tag(0x0010, 0x0020): id.patient_id = s; break;
      case tag(0x0020, 0x000D): id.study_uid = s; break;
      default: break;
    }
  }
};
}  // namespace

Identifier parse_identifier(std::span<const std::uint8_t> data, bool explicit_vr) {
  Identifier id;
  IdentifierReader reader(id);
  Limits lim;
  lim.max_depth = 8;
  lim.max_elements = 4096;
  WalkResult w = walk(data, 0, Encoding{explicit_vr, false}, reader, lim);
  id.ok = !w.fatal;
  return id;
}

std::vector<std::uint8_t> study_match(const std::string& patient_name, const std::string& patient_id,
                                      const std::string& study_uid, const std::string& study_date, bool explicit_vr) {
  return encode(dataset_encoding(explicit_vr), [&](ElementWriter& w) {
    w.element(tag(0x0008, 0x0020), kDA, study_date);
    w.element(tag(0x0008, 0x0052), kCS, "STUDY");
    w.element(tag(0x0010, 0x0010), kPN, patient_name);
    w.element(tag(0x0010, 0x0020), kLO, patient_id);
    w.element(tag(0x0020, 0x000D), kUI, study_uid);
  });
}

Category status_category(std::uint16_t s) {
  if (s == 0x0000) return Category::success;
  if (s == 0xFF00 || s == 0xFF01) return Category::pending;
  if (s == 0xFE00) return Category::cancel;
  if (s == 0x0001 || (s & 0xF000) == 0xB000 || s == 0x0107 || s == 0x0116) return Category::warning;
  return Category::failure;
}

const char* category_name(Category c) {
  switch (c) {
    case Category::success: return "success";
    case Category::pending: return "pending";
    case Category::cancel: return "cancel";
    case Category::warning: return "warning";
    case Category::failure: return "failure";
  }
  return "failure";
}

}  // namespace dg::dicom::dimse
