// procure: rfp's requirements and mds2's answers judged from crafted results. A requirement is not met where one
// of its checks was found, met only where the results hold what would have shown one, and not measured otherwise;
// an MDS2 answer is Yes, No or not measured for one device only.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "findings/catalog.h"
#include "procure/mds2.h"
#include "procure/rfp.h"
#include "procure/table.h"
#include "report/results.h"

namespace procure = dg::procure;
namespace report = dg::report;
using report::ItemStatus;

namespace {

report::Results results(std::initializer_list<const char*> lines) {
  report::Results r;
  for (const char* l : lines) report::add_line(l, r);
  return r;
}

// Through the loader, as the command reads them (search engines' records kept apart, shards noted).
report::Results loaded(const std::string& name, std::initializer_list<const char*> lines) {
  const std::string path = ::testing::TempDir() + "/procure_" + name + ".jsonl";
  {
    std::ofstream out(path);
    for (const char* l : lines) out << l << "\n";
  }
  report::Results r;
  EXPECT_EQ(report::load({path}, r), "");
  std::remove(path.c_str());
  return r;
}

const procure::Verdict& verdict(const std::vector<procure::Verdict>& v, const std::string& id) {
  for (const auto& x : v)
    if (x.req->id == id) return x;
  throw std::runtime_error("no requirement " + id);
}

const procure::Answered& answered(const std::vector<procure::Answered>& v, const std::string& id) {
  for (const auto& x : v)
    if (x.q->id == id) return x;
  throw std::runtime_error("no question " + id);
}

constexpr const char* kAssess = R"({"type":"summary","command":"scan","mode":"assess"})";
constexpr const char* kDiscover = R"({"type":"summary","command":"scan","mode":"discover"})";
constexpr const char* kPacs =
    R"({"type":"service","address":"10.0.0.5","port":104,"protocol":"dimse","move_probe":null,"retrieve":"open","associations":[{"outcome":"accepted"}]})";
constexpr const char* kPacsProbed =
    R"({"type":"service","address":"10.0.0.5","port":104,"protocol":"dimse","move_probe":{"result":"refused-unknown-destination"}})";
constexpr const char* kModality =
    R"({"type":"service","address":"10.0.0.9","port":11112,"protocol":"dimse","move_probe":null,"retrieve":"not-tried","associations":[{"outcome":"accepted"}]})";
constexpr const char* kShut =
    R"({"type":"service","address":"10.0.0.8","port":2762,"protocol":"dimse-tls","move_probe":null,"retrieve":"not-tried","associations":[{"outcome":"rejected"}]})";
constexpr const char* kQueryOpen =
    R"({"type":"finding","check":"dimse.query.open","target":"10.0.0.5:104","severity":"high"})";
constexpr const char* kPlain =
    R"({"type":"finding","check":"dimse.plaintext","target":"10.0.0.5:104","severity":"medium"})";

}  // namespace

TEST(ProcureRfp, TheTableIsWhatTheCatalogCanProve) {
  const auto& reqs = procure::requirements();
  ASSERT_GE(reqs.size(), 14u);
  ASSERT_LE(reqs.size(), 20u);
  const std::regex mds2(R"(MDS2 [A-Z]{4}-\d+(\.\d+)*)");
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto& q = reqs[i];
    EXPECT_EQ(q.id, (i < 9 ? "RFP-0" : "RFP-") + std::to_string(i + 1));
    EXPECT_NE(q.shall.find(" shall "), std::string::npos) << q.id;
    EXPECT_EQ(q.acceptance.rfind("dicomguard ", 0), 0u) << q.id;
    EXPECT_FALSE(q.refs.empty()) << q.id;
    for (const auto& ref : q.refs)
      if (ref.rfind("MDS2", 0) == 0) {
        EXPECT_TRUE(std::regex_match(ref, mds2)) << q.id << ": " << ref;
        EXPECT_EQ(procure::known_ids().count(ref.substr(5)), 1u) << q.id << ": " << ref << " is not a checked ID";
      }
    for (const auto& c : q.checks) EXPECT_NE(dg::Catalog::builtin().find(c), nullptr) << q.id << ": " << c;
    if (q.checks.empty()) {
      EXPECT_FALSE(q.note.empty()) << q.id << " is never measured and must say why";
    }
  }
}

TEST(ProcureRfp, NoResultsMeetNothing) {
  for (const auto& v : procure::check(results({}))) {
    EXPECT_EQ(v.item.status, ItemStatus::not_measured) << v.req->id;
    EXPECT_FALSE(v.item.evidence.empty()) << v.req->id;
  }
}

TEST(ProcureRfp, AFindingIsNotMetACleanMeasurementIsMetTheRestNotMeasured) {
  const auto v = procure::check(results({kAssess, kPacs, kQueryOpen}));
  const auto& query = verdict(v, "RFP-06");
  EXPECT_EQ(query.item.status, ItemStatus::fail);
  EXPECT_EQ(query.item.targets, std::vector<std::string>{"10.0.0.5:104"});
  EXPECT_NE(query.item.evidence.find("dimse.query.open"), std::string::npos) << query.item.evidence;
  EXPECT_STREQ(procure::verdict_label(query.item.status), "not met");
  // The same assess scan tried storage and AE titles: clean, so met.
  EXPECT_EQ(verdict(v, "RFP-07").item.status, ItemStatus::pass);
  EXPECT_EQ(verdict(v, "RFP-05").item.status, ItemStatus::pass);
  EXPECT_NE(verdict(v, "RFP-05").item.evidence.find("10.0.0.5:104"), std::string::npos);
  EXPECT_STREQ(procure::verdict_label(ItemStatus::pass), "met");
  // Nothing in these results would show them.
  for (const char* id : {"RFP-02", "RFP-08", "RFP-09", "RFP-12", "RFP-15", "RFP-16", "RFP-18"})
    EXPECT_EQ(verdict(v, id).item.status, ItemStatus::not_measured) << id;
  // A scan found the service, but no TLS service was graded because there was none: encryption is measured.
  EXPECT_EQ(verdict(v, "RFP-01").item.status, ItemStatus::pass);
  EXPECT_EQ(verdict(procure::check(results({kAssess, kPacs, kPlain})), "RFP-01").item.status, ItemStatus::fail);
}

TEST(ProcureRfp, ADiscoverScanTriedNoCommands) {
  const auto v = procure::check(results({kDiscover, kPacs}));
  EXPECT_EQ(verdict(v, "RFP-05").item.status, ItemStatus::pass);  // AE titles are tried when discovering
  const auto& query = verdict(v, "RFP-06").item;
  EXPECT_EQ(query.status, ItemStatus::not_measured);
  EXPECT_NE(query.evidence.find("--discover"), std::string::npos) << query.evidence;
}

TEST(ProcureRfp, MoveToAnyDestinationNeedsTheProbeOnEveryService) {
  EXPECT_EQ(verdict(procure::check(results({kAssess, kPacsProbed})), "RFP-08").item.status, ItemStatus::pass);
  const auto some = procure::check(results({kAssess, kPacsProbed, kModality}));
  const auto& half = verdict(some, "RFP-08").item;
  EXPECT_EQ(half.status, ItemStatus::not_measured);
  EXPECT_NE(half.evidence.find("1 of 2 DIMSE services"), std::string::npos) << half.evidence;
  // A service that lets no stranger associate cannot be asked to move anything: it counts as measured.
  EXPECT_EQ(verdict(procure::check(results({kAssess, kPacsProbed, kShut})), "RFP-08").item.status, ItemStatus::pass);
  EXPECT_EQ(verdict(procure::check(results({kAssess, kPacsProbed,
                                            R"({"type":"finding","check":"dimse.move.any-destination","target":"10.0.0.5:104"})"})),
                    "RFP-08")
                .item.status,
            ItemStatus::fail);
}

TEST(ProcureRfp, DefaultCredentialsOnlyCountWhenTried) {
  const char* untried = R"({"type":"service","address":"10.0.0.7","port":8042,"protocol":"http","orthanc":"auth-required"})";
  const char* refused =
      R"({"type":"service","address":"10.0.0.7","port":8042,"protocol":"http","orthanc":"auth-required","default_credentials":"refused"})";
  EXPECT_EQ(verdict(procure::check(results({kAssess, untried})), "RFP-09").item.status, ItemStatus::not_measured);
  EXPECT_EQ(verdict(procure::check(results({kAssess, refused})), "RFP-09").item.status, ItemStatus::pass);
  EXPECT_EQ(verdict(procure::check(results({kAssess, refused,
                                            R"({"type":"finding","check":"http.default-credentials","target":"10.0.0.7:8042"})"})),
                    "RFP-09")
                .item.status,
            ItemStatus::fail);
}

TEST(ProcureRfp, FilesAreCountedNeverNamed) {
  const auto v = procure::check(results(
      {R"({"type":"file","path":"/media/SMITH^JOHN/1.dcm","verdict":"dangerous"})",
       R"({"type":"finding","check":"file.preamble.executable","target":"/media/SMITH^JOHN/1.dcm","severity":"critical"})"}));
  const auto& media = verdict(v, "RFP-15").item;
  EXPECT_EQ(media.status, ItemStatus::fail);
  EXPECT_NE(media.evidence.find("1 file"), std::string::npos) << media.evidence;
  EXPECT_EQ(media.evidence.find("SMITH"), std::string::npos) << media.evidence;
}

TEST(ProcureRfp, SearchEngineObservationsAreNotMeasurementsButExposureIs) {
  const auto r = loaded("shodan", {kAssess, kPacs, R"({"type":"summary","command":"shodan"})",
                                   R"({"type":"service","source":"shodan","address":"10.0.0.5","port":104,"protocol":"dimse"})",
                                   R"({"type":"finding","check":"dimse.query.open","target":"10.0.0.5:104"})",
                                   R"({"type":"finding","check":"exposure.internet","target":"10.0.0.5:104"})"});
  const auto v = procure::check(r);
  EXPECT_EQ(verdict(v, "RFP-06").item.status, ItemStatus::pass);  // today's scan refused the stranger
  EXPECT_EQ(verdict(v, "RFP-17").item.status, ItemStatus::fail);
}

TEST(ProcureRfp, PartOfAShardedRunMeetsNothing) {
  const auto r = loaded("shard", {R"({"type":"summary","command":"scan","mode":"assess","shard":"0/2"})", kPacs, kQueryOpen});
  const auto v = procure::check(r);
  EXPECT_EQ(verdict(v, "RFP-06").item.status, ItemStatus::fail);  // failures stand
  const auto& store = verdict(v, "RFP-07").item;
  EXPECT_EQ(store.status, ItemStatus::not_measured);
  EXPECT_NE(store.evidence.find("shards missing"), std::string::npos) << store.evidence;
}

TEST(ProcureTable, CsvQuotesWhatWouldSplitACell) {
  EXPECT_EQ(procure::csv_field("plain"), "plain");
  EXPECT_EQ(procure::csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(procure::csv_field("say \"no\""), "\"say \"\"no\"\"\"");
  EXPECT_EQ(procure::csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(procure::csv_row({"a", "b,c", ""}), "a,\"b,c\",\r\n");
  EXPECT_EQ(procure::md_cell("a|b\nc"), "a\\|b<br>c");
  EXPECT_EQ(procure::html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  // Every requirement is one CSV record of 8 fields with --check: count the separators outside quotes.
  const auto v = procure::check(results({kAssess, kPacs, kQueryOpen}));
  const std::string csv = procure::render_rfp(&v, "csv");
  std::size_t records = 0, fields = 1;
  bool quoted = false;
  for (std::size_t i = 0; i < csv.size(); ++i) {
    const char c = csv[i];
    if (c == '"') quoted = !quoted;
    else if (!quoted && c == ',') ++fields;
    else if (!quoted && c == '\n') {
      EXPECT_EQ(fields, 8u) << "record " << records;
      ++records;
      fields = 1;
    }
  }
  EXPECT_EQ(records, procure::requirements().size() + 1);
}

TEST(ProcureMds2, QuestionsAreInTheFormsOrderWithItsIds) {
  const std::vector<std::string> order = {"DOC", "MPII", "ALOF", "AUDT", "AUTH", "CSUP", "DIDT", "DTBK", "EMRG", "IGAU", "MLDP", "NAUT",
                                          "CONN", "PAUT", "PLOK", "RDMP", "SBOM", "SAHD", "SGUD", "STCF", "TXCF", "TXIG", "RMOT"};
  std::size_t last = 0;
  std::set<std::string> ids;
  const std::regex id(R"([A-Z]{4}-\d+(\.\d+)*)");
  for (const auto& q : procure::questions()) {
    const auto at = std::find(order.begin(), order.end(), q.section);
    ASSERT_NE(at, order.end()) << q.id;
    const std::size_t pos = at - order.begin();
    EXPECT_GE(pos, last) << q.id << " is out of the form's order";
    last = pos;
    EXPECT_TRUE(std::regex_match(q.id, id)) << q.id;
    EXPECT_EQ(q.id.substr(0, 4), q.section);
    EXPECT_TRUE(ids.insert(q.id).second) << q.id;
    for (const auto& c : q.checks) EXPECT_NE(dg::Catalog::builtin().find(c), nullptr) << q.id << ": " << c;
  }
  EXPECT_NE(procure::mds2_source().find("HN 1-2019"), std::string::npos);
}

TEST(ProcureMds2, AnUnknownHostIsAnError) {
  std::vector<procure::Answered> a;
  const std::string e = procure::answer(results({kAssess, kPacs}), {"10.9.9.9"}, a);
  EXPECT_NE(e.find("10.9.9.9"), std::string::npos) << e;
  EXPECT_NE(e.find("10.0.0.5"), std::string::npos) << e;  // says which hosts there are
  EXPECT_TRUE(a.empty());
  procure::Mds2Options wrong_port{"10.0.0.5", {2762}};
  EXPECT_FALSE(procure::answer(results({kAssess, kPacs}), wrong_port, a).empty());
}

TEST(ProcureMds2, OneDevicesAnswersFromItsOwnRecords) {
  // Two devices: 10.0.0.5 stores nothing from strangers but answers their queries; 10.0.0.9 is clean.
  const auto r = results({kAssess, kPacs, kQueryOpen, kPlain, kModality,
                          R"({"type":"file","path":"/export/1.dcm","verdict":"dangerous"})",
                          R"({"type":"finding","check":"file.preamble.executable","target":"/export/1.dcm"})"});
  std::vector<procure::Answered> pacs, modality;
  ASSERT_EQ(procure::answer(r, {"10.0.0.5"}, pacs), "");
  ASSERT_EQ(procure::answer(r, {"10.0.0.9"}, modality), "");
  ASSERT_EQ(pacs.size(), procure::questions().size());
  for (std::size_t i = 0; i < pacs.size(); ++i) EXPECT_EQ(pacs[i].q, &procure::questions()[i]);  // the form's order
  EXPECT_EQ(answered(pacs, "AUTH-1").answer, procure::Answer::no);
  EXPECT_EQ(answered(modality, "AUTH-1").answer, procure::Answer::yes);  // the other device's finding is not its
  EXPECT_EQ(answered(pacs, "TXCF-2").answer, procure::Answer::no);
  EXPECT_EQ(answered(pacs, "CONN-7").answer, procure::Answer::no);        // scanned, and no TLS service
  EXPECT_EQ(answered(pacs, "AUDT-5.2").answer, procure::Answer::not_measured);
  EXPECT_STREQ(procure::answer_label(procure::Answer::not_measured), "not measured");
  // Files name no device: not measured unless the user says they are this device's exports; then only a No.
  EXPECT_EQ(answered(pacs, "MLDP-2").answer, procure::Answer::not_measured);
  std::vector<procure::Answered> with_exports;
  ASSERT_EQ(procure::answer(r, {"10.0.0.5", {}, true}, with_exports), "");
  EXPECT_EQ(answered(with_exports, "MLDP-2").answer, procure::Answer::no);
  EXPECT_EQ(answered(with_exports, "MLDP-2").evidence.find("/export"), std::string::npos);
  const auto clean = results({kAssess, kPacs, R"({"type":"file","path":"/export/2.dcm","verdict":"clean"})"});
  ASSERT_EQ(procure::answer(clean, {"10.0.0.5", {}, true}, with_exports), "");
  EXPECT_EQ(answered(with_exports, "MLDP-2").answer, procure::Answer::not_measured);  // a clean export proves no Yes
}

TEST(ProcureMds2, AuditAnswersNeedACapture) {
  std::vector<procure::Answered> a;
  const char* tls_msg = R"({"type":"audit","sender":"10.0.0.5","transport":"tls","status":"valid"})";
  const char* udp_msg = R"({"type":"audit","sender":"10.0.0.5","transport":"udp","status":"valid"})";
  const char* plaintext = R"({"type":"finding","check":"audit.plaintext","target":"10.0.0.5"})";
  ASSERT_EQ(procure::answer(results({kAssess, kPacs, tls_msg}), {"10.0.0.5"}, a), "");
  EXPECT_EQ(answered(a, "AUDT-5.2").answer, procure::Answer::yes);
  EXPECT_EQ(answered(a, "AUDT-5.4").answer, procure::Answer::yes);
  ASSERT_EQ(procure::answer(results({kAssess, kPacs, udp_msg, plaintext}), {"10.0.0.5"}, a), "");
  EXPECT_EQ(answered(a, "AUDT-5.4").answer, procure::Answer::no);
  // A capture ran, and another device sent; this one did not.
  const char* other = R"({"type":"audit","sender":"10.0.0.9","transport":"tls","status":"valid"})";
  ASSERT_EQ(procure::answer(results({kAssess, kPacs, kModality, other}), {"10.0.0.5"}, a), "");
  EXPECT_EQ(answered(a, "AUDT-5.2").answer, procure::Answer::no);
  EXPECT_EQ(answered(a, "AUDT-5.4").answer, procure::Answer::not_measured);
}
