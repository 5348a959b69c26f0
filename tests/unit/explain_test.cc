// explain/: the story template (values, plurals, sections nested and spanning paragraphs, the errors), the values
// counted from results, the handout formats, and every embedded story parsing and rendering for every audience.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "explain/format.h"
#include "explain/story.h"
#include "explain/template.h"
#include "explain/values.h"
#include "report/results.h"

namespace explain = dg::explain;
using explain::render;
using explain::TemplateError;
using explain::Values;

namespace {

Values with(std::initializer_list<std::pair<const char*, std::uint64_t>> counts) {
  Values v;
  v.has_results = true;
  for (const auto& [k, n] : counts) v.counts[k] = n;
  return v;
}

std::string error_of(const std::string& text, bool admin = false) {
  try {
    render(text, with({}), admin);
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ExplainTemplate, ValuesAndPluralsTakeTheCount) {
  const std::string t = "{{#results}}{{services}} {{services|service|services}} on {{hosts}} "
                        "{{hosts|host|hosts}}{{/results}}";
  EXPECT_EQ(render(t, with({{"services", 1}, {"hosts", 1}}), false), "1 service on 1 host");
  EXPECT_EQ(render(t, with({{"services", 23}, {"hosts", 4}}), false), "23 services on 4 hosts");
  EXPECT_EQ(render(t, with({{"services", 0}, {"hosts", 0}}), false), "0 services on 0 hosts");
  EXPECT_EQ(render(t, with({{"services", 12345}}), false), "12,345 services on 0 hosts");
  EXPECT_EQ(render(t, Values{}, false), "");  // no results: the section is left out
}

TEST(ExplainTemplate, ResultsSectionsAndTheirInverse) {
  const std::string t = "A.\n\n{{#results}}\nYours: {{services}}.\n{{/results}}\n{{^results}}\nStudies.\n{{/results}}\n\nZ.";
  EXPECT_EQ(render(t, Values{}, false), "A.\n\nStudies.\n\nZ.");
  EXPECT_EQ(render(t, with({{"services", 3}}), false), "A.\n\nYours: 3.\n\nZ.");
}

TEST(ExplainTemplate, NameSectionsNeedResultsAndNestAcrossParagraphs) {
  const std::string t = "{{#results}}Scanned.\n\n{{#query_open}}Open: {{query_open}}.\n\n"
                        "{{#store_open}}And {{store_open}} {{store_open|takes|take}} files.{{/store_open}}"
                        "{{/query_open}}{{^query_open}}None open.{{/query_open}}{{/results}}"
                        "{{#plaintext}}P{{/plaintext}}{{^plaintext}}Q{{/plaintext}}";
  EXPECT_EQ(render(t, Values{}, false), "");  // {{^name}} needs results too: without them neither shows
  EXPECT_EQ(render(t, with({}), false), "Scanned.\n\nNone open.Q");
  EXPECT_EQ(render(t, with({{"query_open", 2}}), false), "Scanned.\n\nOpen: 2.\n\nQ");
  EXPECT_EQ(render(t, with({{"query_open", 2}, {"store_open", 1}, {"plaintext", 5}}), false),
            "Scanned.\n\nOpen: 2.\n\nAnd 1 takes files.P");
}

TEST(ExplainTemplate, HostListsOnlyForTheAdministrator) {
  Values v = with({{"hosts", 2}});
  v.lists["hosts_list"] = {"10.0.0.5", "10.0.0.6"};
  const std::string t = "{{#results}}Hosts: {{hosts_list}}.{{^query_open_hosts}} No open query.{{/query_open_hosts}}"
                        "{{/results}}";
  EXPECT_EQ(render(t, v, true), "Hosts: 10.0.0.5, 10.0.0.6. No open query.");
  EXPECT_THROW(render(t, v, false), TemplateError);
  EXPECT_NE(error_of("{{#results}}{{plaintext_hosts}}{{/results}}").find("admin audience only"), std::string::npos);
  EXPECT_NE(error_of("{{#hosts_list}}x{{/hosts_list}}").find("admin audience only"), std::string::npos);
  v.lists["hosts_list"].clear();
  for (int i = 0; i < 20; ++i) v.lists["hosts_list"].push_back("10.0.1." + std::to_string(i));
  const std::string many = render("{{#results}}{{hosts_list}}{{/results}}", v, true);
  EXPECT_NE(many.find("10.0.1.11 and 8 more"), std::string::npos) << many;
  EXPECT_EQ(many.find("10.0.1.12"), std::string::npos) << many;
}

TEST(ExplainTemplate, EveryOtherBraceIsAnError) {
  EXPECT_NE(error_of("{{#results}}{{servces}}{{/results}}").find("unknown name {{servces}}"), std::string::npos);
  EXPECT_NE(error_of("{{ services }}").find("unknown name"), std::string::npos);
  EXPECT_NE(error_of("{{#results}}open").find("never closed"), std::string::npos);
  EXPECT_NE(error_of("x{{/results}}").find("closes no section"), std::string::npos);
  EXPECT_NE(error_of("{{#results}}{{#hosts}}x{{/results}}{{/hosts}}").find("closes {{#hosts}}"), std::string::npos);
  EXPECT_NE(error_of("{{#results}}{{services").find("without }}"), std::string::npos);
  EXPECT_NE(error_of("{{#results}}{{services|one}}{{/results}}").find("plural"), std::string::npos);
  EXPECT_NE(error_of("{{#results}}{{hosts_list|a|b}}{{/results}}", true).find("plural"), std::string::npos);
  EXPECT_NE(error_of("{{#results}}{{#bogus}}x{{/bogus}}{{/results}}").find("unknown name"), std::string::npos);
  EXPECT_NE(error_of("{{results}}").find("unknown name"), std::string::npos);
  // A value needs results around it, whatever the values of this run.
  EXPECT_NE(error_of("{{services}}").find("outside {{#results}}"), std::string::npos);
  EXPECT_NE(error_of("{{^results}}{{services}}{{/results}}").find("no results there"), std::string::npos);
  EXPECT_NE(error_of("{{^results}}{{#hosts}}x{{/hosts}}{{/results}}").find("never show"), std::string::npos);
  EXPECT_NE(error_of("a\n\nb\n{{#results}}{{bad}}{{/results}}").find("line 4"), std::string::npos);
  EXPECT_EQ(explain::check("{{services}}", false).find("line 1:"), 0u);
  EXPECT_EQ(explain::check("{{#results}}{{services}}{{/results}}", false), "");
}

TEST(ExplainValues, CountedFromResultsSearchEnginesApart) {
  dg::report::Results r;
  for (const char* l : {
           R"({"type":"service","address":"10.0.0.5","port":104,"protocol":"dimse","checks":["dimse.plaintext","dimse.query.open"]})",
           R"({"type":"finding","check":"dimse.plaintext","severity":"medium","target":"10.0.0.5:104"})",
           R"({"type":"finding","check":"dimse.query.open","severity":"high","target":"10.0.0.5:104"})",
           R"({"type":"service","address":"10.0.0.5","port":2762,"protocol":"dimse-tls","checks":["tls.cert.expired"]})",
           R"({"type":"finding","check":"tls.cert.expired","severity":"high","target":"10.0.0.5:2762"})",
           R"({"type":"service","address":"10.0.0.6","port":8042,"protocol":"http","checks":["http.orthanc.open"]})",
           R"({"type":"finding","check":"http.orthanc.open","severity":"critical","target":"10.0.0.6:8042"})",
           R"({"type":"file","path":"/a.dcm","checks":["file.preamble.executable"]})",
           R"({"type":"file","path":"/b.dcm","checks":[]})",
       })
    dg::report::add_line(l, r);
  const Values v = explain::measure(r);
  EXPECT_TRUE(v.has_results);
  EXPECT_EQ(v.counts.at("services"), 3u);
  EXPECT_EQ(v.counts.at("hosts"), 2u);
  EXPECT_EQ(v.counts.at("plaintext"), 1u);
  EXPECT_EQ(v.counts.at("tls_services"), 1u);
  EXPECT_EQ(v.counts.at("query_open"), 2u);
  EXPECT_EQ(v.counts.at("cert_problems"), 1u);
  EXPECT_EQ(v.counts.at("tls_weak"), 1u);
  EXPECT_EQ(v.counts.at("critical"), 1u);
  EXPECT_EQ(v.counts.at("high"), 2u);
  EXPECT_EQ(v.counts.at("files"), 2u);
  EXPECT_EQ(v.counts.at("files_flagged"), 1u);
  EXPECT_EQ(v.counts.at("internet"), 0u);
  EXPECT_EQ(v.lists.at("hosts_list"), (std::vector<std::string>{"10.0.0.5", "10.0.0.6"}));
  EXPECT_EQ(v.lists.at("query_open_hosts"), (std::vector<std::string>{"10.0.0.5:104", "10.0.0.6:8042"}));
}

TEST(ExplainFormat, TextWrapsHtmlEscapesEveryFormatCitesItsSources) {
  const std::string toml = R"(id = "demo-topic"
title = "A <title> & more"
summary = "One sentence."
terms = ["104"]
[[source]]
id = "s"
cite = "Someone, A report"
url = "https://example.org/r?a=1&b=2"
figures = ["590"]
)" + [] {
    std::string s;
    for (const char* a : {"admin", "ciso", "journalist", "product-manager", "regulator", "public"})
      s += std::string("[") + a + "]\ntext = '''\nPort 104 and 590 servers, **bold** and `dicomguard scan "
                                  "10.0.0.0/24` and <b>x</b>. Lorem ipsum dolor sit amet, consectetur adipiscing "
                                  "elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.\n\n- one\n"
                                  "- two\n'''\n";
    return s;
  }();
  const explain::Story st = explain::parse_story(toml, "demo-topic");
  const std::string text = explain::format_story(st, "ciso", Values{}, explain::Format::text);
  std::size_t from = 0;
  while (from < text.size()) {
    const std::size_t nl = text.find('\n', from);
    EXPECT_LE((nl == std::string::npos ? text.size() : nl) - from, explain::kTextWidth) << text;
    if (nl == std::string::npos) break;
    from = nl + 1;
  }
  EXPECT_NE(text.find("dicomguard scan 10.0.0.0/24"), std::string::npos) << text;  // a command is never broken
  EXPECT_NE(text.find("\nSources\n- Someone, A report. https://example.org/r?a=1&b=2"), std::string::npos) << text;
  EXPECT_EQ(text.find("**"), std::string::npos);
  const std::string html = explain::format_story(st, "ciso", Values{}, explain::Format::html);
  EXPECT_NE(html.find("<title>A &lt;title&gt; &amp; more</title>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<b>x"), std::string::npos);
  EXPECT_NE(html.find("<strong>bold</strong>"), std::string::npos);
  EXPECT_NE(html.find("<li>one</li>"), std::string::npos);
  EXPECT_NE(html.find("href=\"https://example.org/r?a=1&amp;b=2\""), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  const std::string md = explain::format_story(st, "ciso", Values{}, explain::Format::md);
  EXPECT_NE(md.find("## Sources"), std::string::npos);
}

TEST(ExplainStory, ShapeErrorsNameTheFile) {
  EXPECT_THROW(explain::parse_story("id = \"x\"\n", "x"), std::invalid_argument);  // no title, no audiences
  EXPECT_THROW(explain::parse_story("id = [", "x"), std::invalid_argument);       // not TOML
  try {
    explain::parse_story("id = \"y\"\n", "x");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("data/stories/x.toml"), std::string::npos);
  }
}

TEST(ExplainStory, EveryEmbeddedStoryRendersForEveryAudience) {
  const auto& all = explain::stories();
  EXPECT_FALSE(all.empty());
  dg::report::Results r;
  dg::report::add_line(R"({"type":"service","address":"10.0.0.5","port":104,"protocol":"dimse","checks":[]})", r);
  for (const auto& s : all)
    for (const auto& a : explain::audiences())
      for (const Values& v : {Values{}, explain::measure(r)}) {
        const std::string out = explain::format_story(s, a, v, explain::Format::text);
        EXPECT_EQ(out.find("{{"), std::string::npos) << s.id << " " << a;
        EXPECT_LE(explain::word_count(render(s.text.at(a), v, a == "admin")), 700u) << s.id << " " << a;
      }
}

TEST(ExplainValues, ASearchEnginesRecordCountsOnlyAsSeenFromTheInternet) {
  const std::string path = testing::TempDir() + "explain_seen.jsonl";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(R"({"type":"service","address":"10.0.0.5","port":104,"protocol":"dimse","checks":[]})"
               "\n"
               R"({"type":"service","source":"shodan","address":"192.0.2.7","port":104,"protocol":"dimse","checks":["exposure.internet","dimse.query.open"]})"
               "\n"
               R"({"type":"finding","check":"exposure.internet","severity":"medium","target":"192.0.2.7:104"})"
               "\n"
               R"({"type":"finding","check":"dimse.query.open","severity":"high","target":"192.0.2.7:104"})"
               "\n",
               f);
    std::fclose(f);
  }
  dg::report::Results r;
  ASSERT_EQ(dg::report::load({path}, r), "");
  const Values v = explain::measure(r);
  EXPECT_EQ(v.counts.at("services"), 1u);
  EXPECT_EQ(v.counts.at("hosts"), 1u);
  EXPECT_EQ(v.counts.at("internet"), 1u);
  EXPECT_EQ(v.counts.at("query_open"), 0u);  // what the banner proved is not measured today
  EXPECT_EQ(v.counts.at("high"), 0u);
  std::remove(path.c_str());
}
