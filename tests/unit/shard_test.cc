// --shard i/N: parsing, the split (disjoint, complete, order-free), and report's merge of sharded results.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "report/checklist.h"
#include "report/results.h"
#include "scan/targets.h"
#include "util/shard.h"

using dg::util::parse_shard;
using dg::util::Shard;

TEST(Shard, ParsesIOfN) {
  std::string e;
  auto s = parse_shard("2/8", e);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 2u);
  EXPECT_EQ(s->count, 8u);
  EXPECT_EQ(s->str(), "2/8");
  EXPECT_TRUE(parse_shard("0/1", e));
  for (const char* bad : {"", "8/8", "1/0", "-1/4", "1/4x", "1/", "/4", "a/b", "1/4/2", "0/2000000", " 1/4"}) {
    e.clear();
    EXPECT_FALSE(parse_shard(bad, e)) << bad;
    EXPECT_NE(e.find("--shard"), std::string::npos) << bad;
  }
}

TEST(Shard, SameSplitAsDeidsSha256) {
  // deid --shard has used SHA-256(relative path) mod N since issue 8: the first eight digest bytes of "a" are
  // ca978112ca1bbdca, so "a" falls in shard 0xca978112ca1bbdca mod 7.
  EXPECT_EQ(dg::util::shard_of("a", 7), static_cast<std::uint32_t>(0xca978112ca1bbdcaULL % 7));
}

TEST(Shard, EndpointsSplitDisjointAndComplete) {
  std::string e;
  dg::scan::TargetSet all;
  ASSERT_TRUE(all.add("127.0.0.0/26", e)) << e;
  all.set_ports({104, 11112});
  std::set<std::string> every;
  all.for_each([&](const dg::scan::Endpoint& ep) { return every.insert(ep.str()).second; });
  ASSERT_EQ(every.size(), 128u);
  std::set<std::string> seen;
  std::size_t total = 0;
  for (std::uint32_t i = 0; i < 5; ++i) {
    dg::scan::TargetSet part;
    ASSERT_TRUE(part.add("127.0.0.0/26", e));
    part.set_ports({11112, 104});  // another order: the same split
    part.set_shard(Shard{i, 5});
    std::size_t n = 0;
    part.for_each([&](const dg::scan::Endpoint& ep) {
      ++n;
      EXPECT_TRUE(seen.insert(ep.str()).second) << ep.str() << " in two shards";
      EXPECT_EQ(dg::util::shard_of(ep.str(), 5), i);
      return true;
    });
    EXPECT_GT(n, 0u) << "shard " << i << " is empty";
    total += n;
  }
  EXPECT_EQ(total, 128u);
  EXPECT_EQ(seen, every);
}

namespace {
std::string write_tmp(const std::string& name, const std::string& text) {
  const std::string p = ::testing::TempDir() + "dg-shard-" + name;
  std::FILE* f = std::fopen(p.c_str(), "wb");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return p;
}
}  // namespace

TEST(ShardMerge, OverlappingInputsAreMergedAndMissingShardsNamed) {
  const std::string a = write_tmp("a", R"({"type":"service","address":"127.0.0.1","port":104,"exposure":"ae-open","shard":"0/3"}
{"type":"finding","check":"dimse.ae.any-called","target":"127.0.0.1:104","severity":"high","shard":"0/3"}
{"type":"summary","command":"scan","mode":"assess","shard":"0/3"}
)");
  // shard 2/3 of another run that also saw 127.0.0.1:104 (it overlaps) and one service of its own
  const std::string b = write_tmp("b", R"({"type":"service","address":"127.0.0.1","port":104,"exposure":"identified","shard":"2/3"}
{"type":"service","address":"127.0.0.1","port":4242,"exposure":"identified","shard":"2/3"}
{"type":"finding","check":"dimse.plaintext","target":"127.0.0.1:4242","severity":"medium","shard":"2/3"}
{"type":"service","address":"127.0.0.1","port":104,"source":"shodan"}
{"type":"summary","command":"scan","mode":"assess","shard":"2/3"}
)");
  dg::report::Results r;
  ASSERT_EQ(dg::report::load({a, b}, r), "");
  ASSERT_EQ(r.services.size(), 2u);  // 104 once (scan) and 4242; Shodan's 104 is kept apart, as observed
  EXPECT_EQ(r.observed.size(), 1u);
  EXPECT_EQ(r.services[0].value("exposure", ""), "identified");  // the later input's record wins ...
  EXPECT_FALSE(r.has("dimse.ae.any-called"));                     // ... with its findings, not the earlier's
  EXPECT_EQ(r.check_count["dimse.plaintext"], 1);
  EXPECT_EQ(r.duplicates, 1u);
  ASSERT_EQ(r.missing_shards().size(), 1u);
  EXPECT_EQ(r.missing_shards()[0], "scan: 1 of 3 shards missing (1/3)");

  dg::report::Results twice;  // the same file twice: nothing counted twice
  ASSERT_EQ(dg::report::load({b, b}, twice), "");
  EXPECT_EQ(twice.services.size(), 2u);
  EXPECT_EQ(twice.observed.size(), 1u);
  EXPECT_EQ(twice.check_count["dimse.plaintext"], 1);
  EXPECT_EQ(twice.summaries.size(), 1u);
}

TEST(ShardMerge, IdenticalRecordsWithinOneInputStayDistinct) {
  // two identical audit messages in one capture are two events; the same capture given twice still has two
  const std::string line = R"({"type":"audit","status":"valid","target":"127.0.0.1","transport":"tls"})" "\n";
  const std::string c = write_tmp("c", line + line);
  dg::report::Results r;
  ASSERT_EQ(dg::report::load({c, c}, r), "");
  EXPECT_EQ(r.audit.size(), 2u);
}

TEST(ShardMerge, SubjectKeys) {
  using nlohmann::json;
  EXPECT_EQ(dg::report::subject_key(json::parse(R"({"type":"file","path":"/a"})")),
            dg::report::subject_key(json::parse(R"({"type":"file","path":"/a","shard":"1/2","verdict":"x"})")));
  EXPECT_NE(dg::report::subject_key(json::parse(R"({"type":"file","path":"/a"})")),
            dg::report::subject_key(json::parse(R"({"type":"file","path":"/b"})")));
  EXPECT_EQ(dg::report::subject_key(json::parse(R"({"type":"finding","check":"x"})")), "");
}

TEST(ShardMerge, PartOfAShardedRunPassesNothing) {
  const std::string svc = R"({"type":"service","address":"127.0.0.1","port":104,"protocol":"dimse","exposure":"identified","ae_titles":[],"shard":"SHARD"}
{"type":"summary","command":"scan","mode":"assess","shard":"SHARD"}
)";
  const auto with = [&](const std::string& shard) {
    std::string t = svc;
    for (std::size_t at; (at = t.find("SHARD")) != std::string::npos;) t.replace(at, 5, shard);
    return t;
  };
  dg::report::Results whole, part;
  ASSERT_EQ(dg::report::load({write_tmp("w", with("0/1"))}, whole), "");
  ASSERT_EQ(dg::report::load({write_tmp("p", with("0/2"))}, part), "");
  const auto find = [](const std::vector<dg::report::ChecklistItem>& items, const char* id) {
    for (const auto& it : items)
      if (it.id == id) return it;
    return dg::report::ChecklistItem{};
  };
  const auto w = find(dg::report::checklist(whole), "ae"), p = find(dg::report::checklist(part), "ae");
  EXPECT_EQ(w.status, dg::report::ItemStatus::pass) << w.evidence;
  EXPECT_EQ(p.status, dg::report::ItemStatus::not_measured);
  EXPECT_NE(p.evidence.find("shards missing"), std::string::npos) << p.evidence;
}
