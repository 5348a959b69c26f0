// Known-vulnerable products (scan/vulnerable): version comparison, range boundaries, unknown versions and
// products, the embedded table's well-formedness, and the findings a fingerprinted service record gets.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "findings/catalog.h"
#include "scan/service.h"
#include "scan/targets.h"
#include "scan/vulnerable.h"

namespace dg::scan {
extern const std::string_view kImplementationsJson;
extern const std::string_view kVulnerabilitiesJson;
}  // namespace dg::scan

using namespace dg;
using namespace dg::scan;

namespace {
// A one-entry table: affected from 1.12.1 up to, not including, 1.12.10; and 2.0 through 2.3 inclusive.
const char* kTable = R"({"about":"t","entries":[{"product":"Example","id":"CVE-0000-0001","affected":[
  {"introduced":"1.12.1","fixed":"1.12.10"},{"introduced":"2.0","last_affected":"2.3"}],"fixed":"1.12.10",
  "severity":"high","cvss":"7.5","impact":"i","source":"https://example.org/a"}]})";

bool affected(const Advisory& a, const char* v) { return a.affects(*parse_version(v)); }

std::vector<std::string> ids(const std::vector<const Advisory*>& v) {
  std::vector<std::string> out;
  for (const Advisory* a : v) out.push_back(a->id);
  return out;
}
}  // namespace

TEST(VulnerableVersion, DottedNumbersCompareByComponentNotAsText) {
  EXPECT_LT(compare_versions(*parse_version("1.12.1"), *parse_version("1.12.10")), 0);
  EXPECT_LT(compare_versions(*parse_version("1.12.9"), *parse_version("1.12.10")), 0);
  EXPECT_GT(compare_versions(*parse_version("1.12.10"), *parse_version("1.12.2")), 0);
  EXPECT_EQ(compare_versions(*parse_version("3.6"), *parse_version("3.6.0")), 0);
  EXPECT_LT(compare_versions(*parse_version("3.6.9"), *parse_version("3.7")), 0);
}

TEST(VulnerableVersion, SuffixesAfterTheNumbersAreNotCompared) {
  EXPECT_EQ(*parse_version("1.5.0c"), (std::vector<std::uint64_t>{1, 5, 0}));
  EXPECT_EQ(*parse_version("3.0.4.dev0"), (std::vector<std::uint64_t>{3, 0, 4}));
  EXPECT_EQ(*parse_version("3.6.1_20170228"), (std::vector<std::uint64_t>{3, 6, 1}));
  EXPECT_EQ(*parse_version("3.6."), (std::vector<std::uint64_t>{3, 6}));
  EXPECT_FALSE(parse_version(""));
  EXPECT_FALSE(parse_version("mainline"));
  EXPECT_FALSE(parse_version("dcm4che 5.x"));
  EXPECT_FALSE(parse_version(".1"));
}

TEST(VulnerableRange, BoundariesOfIntroducedFixedAndLastAffected) {
  const auto t = parse_advisories(kTable);
  ASSERT_EQ(t.size(), 1u);
  const Advisory& a = t[0];
  EXPECT_FALSE(affected(a, "1.12.0"));   // just below introduced
  EXPECT_TRUE(affected(a, "1.12.1"));    // exactly introduced
  EXPECT_TRUE(affected(a, "1.12.9"));    // just below fixed
  EXPECT_FALSE(affected(a, "1.12.10"));  // exactly fixed
  EXPECT_FALSE(affected(a, "1.12.11"));  // above
  EXPECT_FALSE(affected(a, "1.13"));
  EXPECT_TRUE(affected(a, "2.0"));       // second range: introduced
  EXPECT_TRUE(affected(a, "2.3"));       // exactly last_affected
  EXPECT_TRUE(affected(a, "2.3.0"));
  EXPECT_FALSE(affected(a, "2.3.1"));    // just above last_affected
}

TEST(VulnerableRange, AMissingBoundIsOpen) {
  const auto t = parse_advisories(R"({"entries":[{"product":"P","id":"X-1","affected":[{"fixed":"3.6.7"}],"fixed":"3.6.7",
    "severity":"medium","cvss":"5","impact":"i","source":"https://e.org"},{"product":"P","id":"X-2","affected":[{"introduced":"1.0"}],
    "fixed":null,"severity":"low","cvss":"3","impact":"i","source":"https://e.org"}]})");
  EXPECT_TRUE(affected(t[0], "0.1"));
  EXPECT_TRUE(affected(t[0], "3.6.6"));
  EXPECT_FALSE(affected(t[0], "3.6.7"));
  EXPECT_FALSE(affected(t[1], "0.9"));
  EXPECT_TRUE(affected(t[1], "99"));
}

TEST(VulnerableTable, MalformedEntriesAreRefusedWithTheEntryNamed) {
  auto msg = [](const std::string& doc) {
    try {
      parse_advisories(doc);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string ok = R"("product":"P","id":"X-9","fixed":"2","severity":"high","cvss":"7","impact":"i","source":"https://e.org")";
  EXPECT_NE(msg(R"({"entries":[{)" + ok + R"(,"affected":[{"fixed":"v2"}]}]})").find("X-9"), std::string::npos);
  EXPECT_NE(msg(R"({"entries":[{)" + ok + R"(,"affected":[]}]})").find("no affected"), std::string::npos);
  EXPECT_NE(msg(R"({"entries":[{)" + ok + R"(,"affected":[{"below":"2"}]}]})").find("unknown range key"), std::string::npos);
  EXPECT_NE(msg(R"({"entries":[{)" + ok + R"(,"affected":[{"introduced":"2","fixed":"1"}]}]})").find("not before"), std::string::npos);
  EXPECT_NE(msg(R"({"entries":[{"product":"P","id":"X-8","fixed":"2","severity":"urgent","cvss":"7","impact":"i",
    "source":"https://e.org","affected":[{"fixed":"2"}]}]})").find("severity"), std::string::npos);
  EXPECT_NE(msg(R"({"entries":[{"product":"P","id":"X-7","fixed":"2","severity":"high","cvss":"7","impact":"i",
    "source":"ftp://e.org","affected":[{"fixed":"2"}]}]})").find("source"), std::string::npos);
  EXPECT_NE(msg("[]").find("entries"), std::string::npos);
}

TEST(VulnerableTable, EveryEmbeddedEntryIsWellFormedWithASourceAndASeverity) {
  const auto doc = nlohmann::json::parse(kVulnerabilitiesJson);
  ASSERT_TRUE(doc.contains("about") && doc["about"].is_string() && !doc["about"].get<std::string>().empty());
  ASSERT_NO_THROW(advisories());
  EXPECT_EQ(advisories().size(), doc["entries"].size());
  std::set<std::string> seen;
  for (const Advisory& a : advisories()) {
    SCOPED_TRACE(a.id);
    EXPECT_TRUE(seen.insert(a.product + "|" + a.id).second) << "listed twice";
    EXPECT_EQ(a.source.rfind("https://", 0), 0u);
    EXPECT_FALSE(a.impact.empty());
    EXPECT_FALSE(a.cvss.empty());
    EXPECT_TRUE(a.id.rfind("CVE-", 0) == 0 || a.id.rfind("ICSMA-", 0) == 0);
    // A fixed release is outside every range; each range's own fixed bound is at most the entry's fixed.
    if (!a.fixed.empty()) {
      EXPECT_FALSE(a.affects(*parse_version(a.fixed)));
      for (const VersionRange& r : a.affected)
        if (!r.fixed.empty()) {
          EXPECT_LE(compare_versions(*parse_version(r.fixed), *parse_version(a.fixed)), 0);
        }
    }
  }
}

TEST(VulnerableTable, EveryProductIsOneTheScanCanName) {
  // The fingerprint table's products, and Orthanc (named by its REST API's /system: scan/service.cc).
  std::set<std::string> named{"Orthanc"};
  const auto implementations = nlohmann::json::parse(kImplementationsJson);
  for (const auto& e : implementations["entries"]) named.insert(e["product"].get<std::string>());
  std::set<std::string> covered;
  for (const Advisory& a : advisories()) {
    EXPECT_TRUE(named.count(a.product)) << a.id << ": no scan names the product '" << a.product << "'";
    covered.insert(a.product);
  }
  EXPECT_TRUE(covered.count("DCMTK"));
  EXPECT_TRUE(covered.count("Orthanc"));
  EXPECT_TRUE(covered.count("Conquest DICOM server (dgate)"));
  EXPECT_TRUE(covered.count("GDCM"));
}

TEST(VulnerableLookup, UnknownProductsAndVersionsMatchNothing) {
  EXPECT_TRUE(lookup("No Such Product", "1.0").empty());
  EXPECT_TRUE(lookup("DCMTK", "").empty());
  EXPECT_TRUE(lookup("DCMTK", "mainline").empty());
  EXPECT_TRUE(product_findings("127.0.0.1:104", "No Such Product", "1.0").empty());
  EXPECT_TRUE(product_findings("127.0.0.1:104", "", "").empty());
}

TEST(VulnerableLookup, AVersionNamedByTheToolkitNameAloneIsFiledUnderTheToolkit) {
  EXPECT_EQ(advisory_product("DCMTK (named by its version name; the implementation UID is another)"), "DCMTK");
  EXPECT_EQ(ids(lookup("DCMTK (named by its version name; the implementation UID is another)", "3.6.7")),
            ids(lookup("DCMTK", "3.6.7")));
}

TEST(VulnerableFindings, AnAffectedVersionGetsOneFindingWithTheWorstSeverityAndEveryAdvisory) {
  const std::string version = "3.6.7";
  const auto hits = lookup("DCMTK", version);
  ASSERT_FALSE(hits.empty()) << "the table has DCMTK advisories covering 3.6.7";
  Severity worst = Severity::info;
  for (const Advisory* a : hits) worst = std::max(worst, a->severity);
  const auto f = product_findings("127.0.0.1:104", "DCMTK", version);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].check, "product.vulnerable");
  EXPECT_EQ(f[0].severity, worst);
  EXPECT_EQ(f[0].evidence["ids"].get<std::vector<std::string>>(), ids(hits));
  EXPECT_EQ(f[0].evidence["version"], version);
  for (const auto& a : f[0].evidence["advisories"]) EXPECT_EQ(a["source"].get<std::string>().rfind("https://", 0), 0u);
}

TEST(VulnerableFindings, TheSameBuildOnManyServicesGivesEachItsOwnTarget) {
  // product_findings keeps what it built per product and version: the second service must get the same finding
  // about itself, not a copy naming the first, and a different version its own advisories.
  const auto a = product_findings("127.0.0.1:104", "DCMTK", "3.6.6");
  const auto b = product_findings("127.0.0.2:11112", "DCMTK", "3.6.6");
  const auto c = product_findings("127.0.0.3:104", "DCMTK", "3.6.7");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(a[0].target, "127.0.0.1:104");
  EXPECT_EQ(b[0].target, "127.0.0.2:11112");
  EXPECT_EQ(a[0].evidence, b[0].evidence);
  EXPECT_EQ(a[0].title, b[0].title);
  EXPECT_EQ(a[0].severity, b[0].severity);
  EXPECT_EQ(c[0].evidence["version"], "3.6.7");
  EXPECT_EQ(c[0].evidence["ids"].get<std::vector<std::string>>(), ids(lookup("DCMTK", "3.6.7")));
  EXPECT_EQ(a[0].evidence["ids"].get<std::vector<std::string>>(), ids(lookup("DCMTK", "3.6.6")));
}

TEST(VulnerableFindings, AProductWithAdvisoriesAndNoComparableVersionIsUnknownVersion) {
  for (const char* v : {"", "mainline"}) {
    const auto f = product_findings("127.0.0.1:8042", "Orthanc", v);
    ASSERT_EQ(f.size(), 1u) << v;
    EXPECT_EQ(f[0].check, "product.unknown-version");
    EXPECT_EQ(f[0].severity, Catalog::builtin().find("product.unknown-version")->severity);
    EXPECT_EQ(f[0].evidence["advisories"], for_product("Orthanc").size());
  }
}

TEST(VulnerableFindings, AVersionAboveEveryRangeGetsNoFinding) {
  EXPECT_TRUE(product_findings("127.0.0.1:104", "DCMTK", "999.0").empty());
  EXPECT_TRUE(product_findings("127.0.0.1:8042", "Orthanc", "999.0").empty());
}

TEST(VulnerableFindings, TheServiceRecordOfAFingerprintedDcmtkCarriesThem) {
  DimseResult r;
  r.ep = {*parse_addr("127.0.0.1"), 104, {}};
  r.answer = "dicom";
  r.implementation_uid = "1.2.276.0.7230010.3.0.3.6.7";
  r.implementation_version = "OFFIS_DCMTK_367";
  const Record rec = dimse_record(r);
  auto has = [&rec](const char* id) {
    return std::any_of(rec.findings.begin(), rec.findings.end(), [id](const Finding& f) { return f.check == id; });
  };
  EXPECT_TRUE(has("product.vulnerable"));
  r.implementation_version = "SOMETHING_ELSE";  // DCMTK's UID, a version name that gives no version
  EXPECT_TRUE([&] { const Record x = dimse_record(r); return std::any_of(x.findings.begin(), x.findings.end(),
      [](const Finding& f) { return f.check == "product.unknown-version"; }); }());
}

TEST(VulnerableFindings, ConquestIsPlacedByTheReleaseItAnnouncesBeforeTheSlash) {
  // Conquest's A-ASSOCIATE-AC carries its release as "1.4.19/WIN32" under its own UID (data/implementations.json);
  // CVE-2020-35308 affects every release before 1.5.0.
  DimseResult r;
  r.ep = {*parse_addr("127.0.0.1"), 5678, {}};
  r.answer = "dicom";
  r.implementation_uid = "1.2.826.0.1.3680043.2.135.1066.101";
  auto ids_of = [&r](const char* version) {
    r.implementation_version = version;
    std::vector<std::string> out;
    for (const Finding& f : dimse_record(r).findings)
      if (f.check == "product.vulnerable") out = f.evidence["ids"].get<std::vector<std::string>>();
    return out;
  };
  EXPECT_EQ(ids_of("1.4.19/WIN32"), std::vector<std::string>{"CVE-2020-35308"});
  EXPECT_TRUE(ids_of("1.5.0/OTHER").empty());
  EXPECT_TRUE(ids_of("1.5.0/WIN32").empty());
}

TEST(VulnerableLookup, ARangeThatReopensAfterARevertedFixMatchesOnBothSides) {
  // GDCM CVE-2026-3650: fixed in 3.2.6, the fix reverted in 3.2.10 with no later fix.
  auto has = [](const char* v) {
    const auto hits = lookup("GDCM", v);
    return std::any_of(hits.begin(), hits.end(), [](const Advisory* a) { return a->id == "CVE-2026-3650"; });
  };
  EXPECT_FALSE(has("3.2.1"));
  EXPECT_TRUE(has("3.2.2"));
  EXPECT_TRUE(has("3.2.5"));
  EXPECT_FALSE(has("3.2.6"));
  EXPECT_FALSE(has("3.2.9"));
  EXPECT_TRUE(has("3.2.10"));
  EXPECT_TRUE(has("3.2.11"));
}
