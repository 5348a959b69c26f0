// report/checklist: each item is judged from the results alone. Absent evidence is "not measured", never a pass;
// a finding fails its item and names where.
#include "report/checklist.h"

#include <gtest/gtest.h>

#include <string>

#include "report/matrix.h"
#include "report/results.h"

namespace report = dg::report;
using report::ItemStatus;

namespace {

report::Results results(std::initializer_list<const char*> lines) {
  report::Results r;
  for (const char* l : lines) report::add_line(l, r);
  return r;
}

const report::ChecklistItem& item(const std::vector<report::ChecklistItem>& items, const std::string& id) {
  for (const auto& it : items)
    if (it.id == id) return it;
  throw std::runtime_error("no checklist item " + id);
}

constexpr const char* kScanSummary = R"({"type":"summary","command":"scan","mode":"assess"})";
constexpr const char* kPlainService =
    R"({"type":"service","address":"10.0.0.5","port":104,"protocol":"dimse","exposure":"ae-open"})";
constexpr const char* kTlsService =
    R"({"type":"service","address":"10.0.0.6","port":2762,"protocol":"dimse-tls","exposure":"identified"})";

}  // namespace

TEST(Checklist, NoResultsMeasureNothingAndPassNothing) {
  const auto items = report::checklist(results({}));
  ASSERT_EQ(items.size(), 9u);
  for (const auto& it : items) {
    EXPECT_EQ(it.status, ItemStatus::not_measured) << it.id;
    EXPECT_FALSE(it.evidence.empty()) << it.id;
    EXPECT_TRUE(it.targets.empty()) << it.id;
  }
  EXPECT_STREQ(report::status_name(ItemStatus::not_measured), "not-measured");
  EXPECT_STREQ(report::status_label(ItemStatus::not_measured), "not measured");
}

TEST(Checklist, AFindingFailsItsItemAndNamesTheTarget) {
  const auto items = report::checklist(results(
      {kScanSummary, kPlainService,
       R"({"type":"finding","check":"dimse.store.open","target":"10.0.0.5:104","severity":"high"})",
       R"({"type":"finding","check":"dimse.plaintext","target":"10.0.0.5:104","severity":"medium"})"}));
  const auto& store = item(items, "store");
  EXPECT_EQ(store.status, ItemStatus::fail);
  EXPECT_EQ(store.targets, std::vector<std::string>{"10.0.0.5:104"});
  EXPECT_NE(store.evidence.find("dimse.store.open"), std::string::npos) << store.evidence;
  EXPECT_EQ(item(items, "tls").status, ItemStatus::fail);
  // Measured by the same scan, not found: these pass.
  EXPECT_EQ(item(items, "ae").status, ItemStatus::pass);
  EXPECT_EQ(item(items, "query").status, ItemStatus::pass);
  // Nothing in a scan measures files, audit, clocks or de-identification.
  for (const char* id : {"files", "audit", "clock", "deid", "certificates"})
    EXPECT_EQ(item(items, id).status, ItemStatus::not_measured) << id;
}

TEST(Checklist, ADiscoveryScanDoesNotPassTheCommandItems) {
  const auto items =
      report::checklist(results({R"({"type":"summary","command":"scan","mode":"discover"})", kPlainService}));
  EXPECT_EQ(item(items, "query").status, ItemStatus::not_measured);
  EXPECT_NE(item(items, "query").evidence.find("--discover"), std::string::npos);
  EXPECT_EQ(item(items, "store").status, ItemStatus::not_measured);
  EXPECT_EQ(item(items, "ae").status, ItemStatus::pass);
}

TEST(Checklist, TlsServicesNotAllGradedAreNotMeasured) {
  const char* graded = R"({"type":"tls","address":"10.0.0.6","port":2762,"profile":"B.12"})";
  const auto ungraded = report::checklist(results({kScanSummary, kTlsService, kTlsService}));
  EXPECT_EQ(item(ungraded, "tls").status, ItemStatus::not_measured);
  const auto half = report::checklist(results({kScanSummary, kTlsService,
      R"({"type":"service","address":"10.0.0.7","port":2762,"protocol":"dimse-tls"})", graded}));
  EXPECT_EQ(item(half, "tls").status, ItemStatus::not_measured);
  EXPECT_NE(item(half, "tls").evidence.find("1 of 2"), std::string::npos) << item(half, "tls").evidence;
  const auto all = report::checklist(results({kScanSummary, kTlsService, graded}));
  EXPECT_EQ(item(all, "tls").status, ItemStatus::pass);
  EXPECT_EQ(item(all, "certificates").status, ItemStatus::pass);
}

TEST(Checklist, ADangerousFileFailsTheFilesItemWithItsCount) {
  const auto items = report::checklist(results(
      {R"({"type":"summary","command":"files"})", R"({"type":"file","path":"a.dcm","verdict":"dangerous"})",
       R"({"type":"file","path":"b.dcm","verdict":"clean"})",
       R"({"type":"finding","check":"file.preamble.executable","target":"a.dcm","severity":"critical"})"}));
  const auto& files = item(items, "files");
  EXPECT_EQ(files.status, ItemStatus::fail);
  EXPECT_NE(files.evidence.find("1 file of 2"), std::string::npos) << files.evidence;
  EXPECT_NE(files.evidence.find("file.preamble.executable x1"), std::string::npos) << files.evidence;
  const auto clean = report::checklist(results({R"({"type":"file","path":"b.dcm","verdict":"clean"})"}));
  EXPECT_EQ(item(clean, "files").status, ItemStatus::pass);
}

TEST(Checklist, LinesThatAreNotResultsAreCountedNotTrusted) {
  const report::Results r = results({"not json", R"({"no":"type"})", R"({"type":"finding"})", ""});
  EXPECT_EQ(r.skipped_lines, 3u);
  EXPECT_TRUE(r.findings.empty());
}

TEST(Matrix, ATechniqueIsExposedNotSeenNotMeasuredOrNotCovered) {
  report::Technique t;
  t.checks = {"dimse.store.open"};
  EXPECT_EQ(report::technique_state(t, results({})), report::TechniqueState::not_measured);
  EXPECT_EQ(report::technique_state(t, results({kScanSummary, kPlainService})), report::TechniqueState::not_seen);
  EXPECT_EQ(report::technique_state(
                t, results({kScanSummary, kPlainService,
                            R"({"type":"finding","check":"dimse.store.open","target":"10.0.0.5:104"})"})),
            report::TechniqueState::exposed);
  t.checks.clear();
  EXPECT_EQ(report::technique_state(t, results({kScanSummary})), report::TechniqueState::not_covered);
  EXPECT_STREQ(report::state_label(report::TechniqueState::not_covered), "no check yet");
}

TEST(Checklist, DeidentificationIsJudgedFromDeidVerify) {
  const char* summary = R"({"type":"summary","command":"deid-verify"})";
  const auto clean = report::checklist(results(
      {R"({"type":"verify","path":"out/a.dcm","status":"clean","values_searched":12})", summary}));
  EXPECT_EQ(item(clean, "deid").status, ItemStatus::pass);
  EXPECT_NE(item(clean, "deid").evidence.find("input value"), std::string::npos) << item(clean, "deid").evidence;
  const auto leaky = report::checklist(results(
      {R"({"type":"verify","path":"out/a.dcm","status":"clean"})",
       R"({"type":"verify","path":"out/b.dcm","status":"residual"})",
       R"({"type":"finding","check":"deid.residual.value","target":"out/b.dcm","severity":"high"})", summary}));
  const auto& d = item(leaky, "deid");
  EXPECT_EQ(d.status, ItemStatus::fail);
  EXPECT_EQ(d.targets, std::vector<std::string>{"out/b.dcm"});
  EXPECT_NE(d.evidence.find("1 of 2"), std::string::npos) << d.evidence;
  EXPECT_NE(d.evidence.find("deid.residual.value x1"), std::string::npos) << d.evidence;
  // A scan says nothing about de-identification.
  EXPECT_EQ(item(report::checklist(results({kScanSummary, kPlainService})), "deid").status, ItemStatus::not_measured);
}

// The clock item: measured from the scan's clock records and its ntp findings.
TEST(Checklist, ClocksAreMeasuredFromClockRecords) {
  constexpr const char* kInSync =
      R"({"type":"clock","target":"10.0.0.5","address":"10.0.0.5","status":"in-sync","offset_seconds":0.004,"source":"ntp"})";
  constexpr const char* kSkewed =
      R"({"type":"clock","target":"10.0.0.6","address":"10.0.0.6","status":"skewed","offset_seconds":-600.2,"source":"http-date"})";
  constexpr const char* kSkewFinding = R"({"type":"finding","check":"clock.skew","target":"10.0.0.6","severity":"low"})";
  constexpr const char* kMode6 = R"({"type":"finding","check":"ntp.mode6","target":"10.0.0.5:123","severity":"medium"})";
  // No clock read: not measured, whatever else the scan found.
  EXPECT_EQ(item(report::checklist(results({kScanSummary, kPlainService})), "clock").status, ItemStatus::not_measured);
  // Every clock in step: pass.
  auto it = item(report::checklist(results({kScanSummary, kInSync})), "clock");
  EXPECT_EQ(it.status, ItemStatus::pass);
  EXPECT_NE(it.evidence.find("0.004"), std::string::npos) << it.evidence;
  // One off: fail, naming it, its offset and where it was read.
  it = item(report::checklist(results({kScanSummary, kInSync, kSkewed, kSkewFinding})), "clock");
  EXPECT_EQ(it.status, ItemStatus::fail);
  EXPECT_EQ(it.targets, std::vector<std::string>{"10.0.0.6"});
  EXPECT_NE(it.evidence.find("10.0.0.6 (-600.2 s, http-date)"), std::string::npos) << it.evidence;
  // In step, but an NTP server that answers mode 6: fail.
  it = item(report::checklist(results({kScanSummary, kInSync, kMode6})), "clock");
  EXPECT_EQ(it.status, ItemStatus::fail);
  EXPECT_EQ(it.targets, std::vector<std::string>{"10.0.0.5:123"});
  EXPECT_NE(it.evidence.find("mode 6"), std::string::npos) << it.evidence;
}

// ATNA event times (audit listen alongside the scan) are clock readings too: a sender whose messages arrive with
// audit.clock-skew fails the clock item; senders in step count towards a pass.
TEST(Checklist, ClocksIncludeAtnaEventTimes) {
  constexpr const char* kInStep =
      R"({"type":"audit","status":"valid","target":"10.0.0.7","transport":"tls","sender":"10.0.0.7","bytes":900,"valid":true,"problems":[],"checks":[],"skew_s":0.3})";
  constexpr const char* kLate =
      R"({"type":"audit","status":"valid","target":"10.0.0.8","transport":"tls","sender":"10.0.0.8","bytes":900,"valid":true,"problems":[],"checks":["audit.clock-skew"],"skew_s":-3605.5})";
  constexpr const char* kLateFinding =
      R"({"type":"finding","check":"audit.clock-skew","target":"10.0.0.8","severity":"low"})";
  // Only audit messages, all in step: the clock item is measured from them and passes.
  auto it = item(report::checklist(results({kInStep})), "clock");
  EXPECT_EQ(it.status, ItemStatus::pass) << it.evidence;
  EXPECT_NE(it.evidence.find("ATNA"), std::string::npos) << it.evidence;
  // One sender an hour off: fail, naming it and its offset.
  it = item(report::checklist(results({kScanSummary, kInStep, kLate, kLateFinding})), "clock");
  EXPECT_EQ(it.status, ItemStatus::fail);
  EXPECT_EQ(it.targets, std::vector<std::string>{"10.0.0.8"});
  EXPECT_NE(it.evidence.find("10.0.0.8 (-3605.5 s, ATNA event times)"), std::string::npos) << it.evidence;
}
