// src/audit: message content and escaping, syslog framing, URL parsing, the spool's order and restart recovery
// against a loopback TCP listener.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/message.h"
#include "audit/trail.h"

namespace a = dg::audit;

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

a::Common common() {
  a::Common c;
  c.source_id = "gw1";
  c.when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764653441123));
  return c;
}

// Collects octet-counted messages from one connection at a time.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    listen(fd_, 8);
    thread_ = std::thread([this] { loop(); });
  }
  ~Listener() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> messages() {
    std::lock_guard lk(m_);
    return msgs_;
  }
  void wait_for(std::size_t n) {
    while (messages().size() < n) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

 private:
  void loop() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string buf;
      char b[4096];
      for (;;) {
        const ssize_t n = recv(c, b, sizeof b, 0);
        if (n <= 0) break;
        buf.append(b, static_cast<std::size_t>(n));
        for (;;) {
          const auto sp = buf.find(' ');
          if (sp == std::string::npos) break;
          const std::size_t len = std::stoul(buf.substr(0, sp));
          if (buf.size() < sp + 1 + len) break;
          std::lock_guard lk(m_);
          msgs_.push_back(buf.substr(sp + 1, len));
          buf.erase(0, sp + 1 + len);
        }
      }
      close(c);
    }
  }
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex m_;
  std::vector<std::string> msgs_;
};

std::string tmpdir(const char* name) {
  auto p = std::filesystem::temp_directory_path() / (std::string("dg-audit-") + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace

TEST(AuditMessage, ApplicationActivity) {
  a::Participant app{"DICOMGUARD", "99@gw1", "", false, "10.0.0.1", "source"};
  const auto x = a::application_activity(common(), true, app);
  EXPECT_EQ(x.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>", 0), 0u);
  EXPECT_NE(x.find("<EventIdentification EventActionCode=\"E\" EventDateTime=\"2025-12-02T05:30:41.123Z\" "
                   "EventOutcomeIndicator=\"0\">"),
            std::string::npos);
  EXPECT_NE(x.find("<EventID csd-code=\"110100\" codeSystemName=\"DCM\" originalText=\"Application Activity\"/>"),
            std::string::npos);
  EXPECT_NE(x.find("<EventTypeCode csd-code=\"110120\" codeSystemName=\"DCM\" originalText=\"Application Start\"/>"),
            std::string::npos);
  EXPECT_NE(x.find("<RoleIDCode csd-code=\"110150\" codeSystemName=\"DCM\" originalText=\"Application\"/>"),
            std::string::npos);  // forced, whatever role was passed
  EXPECT_NE(x.find("NetworkAccessPointID=\"10.0.0.1\" NetworkAccessPointTypeCode=\"2\""), std::string::npos);
  EXPECT_NE(x.find("<AuditSourceIdentification AuditSourceID=\"gw1\"><AuditSourceTypeCode csd-code=\"4\"/>"),
            std::string::npos);
  EXPECT_EQ(x.find('\n'), std::string::npos);
  EXPECT_TRUE(x.ends_with("</AuditMessage>"));
  EXPECT_NE(a::application_activity(common(), false, app).find("110121"), std::string::npos);
}

TEST(AuditMessage, TransfersCarryStudyAndPatient) {
  a::Instances in{"1.2.3", {{"1.2.840.10008.5.1.4.1.1.2", 3}}, "P1", ""};
  std::vector<a::Participant> ps{{"MOD", "", "", true, "127.0.0.2", "source"},
                                 {"PACS", "", "", false, "pacs.local", "destination"}};
  const auto x = a::instances_transferred(common(), ps, in, 'R');
  EXPECT_NE(x.find("EventActionCode=\"R\""), std::string::npos);
  EXPECT_NE(x.find("csd-code=\"110104\""), std::string::npos);
  EXPECT_NE(x.find("originalText=\"Source Role ID\""), std::string::npos);
  EXPECT_NE(x.find("originalText=\"Destination Role ID\""), std::string::npos);
  EXPECT_NE(x.find("NetworkAccessPointID=\"pacs.local\" NetworkAccessPointTypeCode=\"1\""), std::string::npos);
  EXPECT_NE(x.find("ParticipantObjectID=\"1.2.3\" ParticipantObjectTypeCode=\"2\" ParticipantObjectTypeCodeRole=\"3\""),
            std::string::npos);
  EXPECT_NE(x.find("<SOPClass UID=\"1.2.840.10008.5.1.4.1.1.2\" NumberOfInstances=\"3\"/>"), std::string::npos);
  EXPECT_NE(x.find("ParticipantObjectID=\"P1\" ParticipantObjectTypeCode=\"1\" ParticipantObjectTypeCodeRole=\"1\""),
            std::string::npos);
  EXPECT_NE(x.find("csd-code=\"2\" codeSystemName=\"RFC-3881\" originalText=\"Patient Number\""), std::string::npos);
  EXPECT_NE(a::begin_transferring(common(), ps, in).find("csd-code=\"110102\""), std::string::npos);
  EXPECT_THROW(a::instances_transferred(common(), ps, in, 'D'), std::invalid_argument);
  EXPECT_THROW(a::instances_transferred(common(), ps, a::Instances{}, 'C'), std::invalid_argument);
  ps[0].role = "boss";
  EXPECT_THROW(a::begin_transferring(common(), ps, in), std::invalid_argument);
}

TEST(AuditMessage, QueryAndAlert) {
  const std::uint8_t ds[] = {0x08, 0x00, 0x52, 0x00, 0x00};
  std::vector<a::Participant> ps{{"SCU", "", "", true, "", "source"}, {"SCP", "", "", false, "", "destination"}};
  const auto q = a::query(common(), ps, "1.2.840.10008.5.1.4.1.2.2.1", ds, "1.2.840.10008.1.2");
  EXPECT_NE(q.find("csd-code=\"110112\""), std::string::npos);
  EXPECT_NE(q.find("csd-code=\"110181\" codeSystemName=\"DCM\" originalText=\"SOP Class UID\""), std::string::npos);
  EXPECT_NE(q.find("<ParticipantObjectQuery>CABSAAA=</ParticipantObjectQuery>"), std::string::npos);
  EXPECT_NE(q.find("<ParticipantObjectDetail type=\"TransferSyntax\" value=\"" + a::base64("1.2.840.10008.1.2") + "\"/>"),
            std::string::npos);
  auto c = common();
  c.outcome = a::Outcome::minor_failure;
  c.outcome_description = "refused";
  const auto al = a::security_alert(c, a::AlertKind::restricted_function, ps, "10.1.1.1", "C-STORE refused");
  EXPECT_NE(al.find("csd-code=\"110113\""), std::string::npos);
  EXPECT_NE(al.find("csd-code=\"110132\" codeSystemName=\"DCM\" originalText=\"Use of Restricted Function\""),
            std::string::npos);
  EXPECT_NE(al.find("EventOutcomeIndicator=\"4\""), std::string::npos);
  EXPECT_NE(al.find("<EventOutcomeDescription>refused</EventOutcomeDescription>"), std::string::npos);
  EXPECT_NE(al.find("type=\"Alert Description\" value=\"" + a::base64("C-STORE refused") + "\""), std::string::npos);
  EXPECT_NE(a::security_alert(c, a::AlertKind::node_authentication, ps, "", "").find("110126"), std::string::npos);
  // Performing participants are never the requestor; the Alert Description is there even when not given.
  EXPECT_EQ(count(al, "UserIsRequestor=\"true\""), 1u);
  EXPECT_NE(a::security_alert(c, a::AlertKind::node_authentication, {ps[1], ps[0]}, "10.1.1.1", "")
                .find("type=\"Alert Description\" value=\"" + a::base64("refused") + "\""),
            std::string::npos);
}

TEST(AuditMessage, Escaping) {
  EXPECT_EQ(a::xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
  EXPECT_EQ(a::xml_escape("x\ny\tz"), "x&#10;y&#9;z");
  EXPECT_EQ(a::xml_escape(std::string("a\x01", 2)), "a\xEF\xBF\xBD");
  EXPECT_EQ(a::xml_escape("\xC3\xA9"), "\xC3\xA9");                 // é kept
  EXPECT_EQ(a::xml_escape("\xC3"), "\xEF\xBF\xBD");                  // truncated sequence
  EXPECT_EQ(a::xml_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  EXPECT_EQ(a::xml_escape("\xED\xA0\x80").substr(0, 3), "\xEF\xBF\xBD");  // surrogate
  a::Participant app{"AE\"<x>", "", "n&m", false, "", ""};
  const auto x = a::application_activity(common(), true, app);
  EXPECT_NE(x.find("UserID=\"AE&quot;&lt;x&gt;\""), std::string::npos);
  EXPECT_NE(x.find("UserName=\"n&amp;m\""), std::string::npos);
  EXPECT_EQ(a::base64("M"), "TQ==");
  EXPECT_EQ(a::base64("Ma"), "TWE=");
  EXPECT_EQ(a::base64("Man"), "TWFu");
}

TEST(AuditSyslog, Rfc5424Header) {
  a::SyslogOptions o;
  o.hostname = "gw one";  // a space is not PRINTUSASCII: dropped
  const auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764653441123));
  const auto f = a::syslog_frame("<x/>", o, when);
  EXPECT_EQ(f, "<85>1 2025-12-02T05:30:41.123Z gwone dicomguard " + std::to_string(getpid()) +
                   " DICOM+RFC3881 - \xEF\xBB\xBF<x/>");
  o.bom = false;
  o.priority = 110;
  EXPECT_EQ(a::syslog_frame("<x/>", o, when).rfind("<110>1 ", 0), 0u);
  EXPECT_TRUE(a::syslog_frame("<x/>", o, when).ends_with(" - <x/>"));
  o.priority = 192;
  EXPECT_THROW(a::syslog_frame("<x/>", o, when), std::invalid_argument);
}

TEST(AuditUrl, Parses) {
  auto d = a::parse_destination("syslog+tls://collector.example:6514");
  EXPECT_EQ(d.kind, a::Destination::Kind::tls);
  EXPECT_EQ(d.host, "collector.example");
  EXPECT_EQ(d.port, 6514);
  d = a::parse_destination("syslog+udp://[::1]:514");
  EXPECT_EQ(d.kind, a::Destination::Kind::udp);
  EXPECT_EQ(d.host, "::1");
  EXPECT_EQ(d.port, 514);
  EXPECT_EQ(a::parse_destination("syslog+tcp://127.0.0.1:601").kind, a::Destination::Kind::tcp);
  d = a::parse_destination("file:/var/log/a.log");
  EXPECT_EQ(d.kind, a::Destination::Kind::file);
  EXPECT_EQ(d.path, "/var/log/a.log");
}

TEST(AuditUrl, ErrorsSayWhat) {
  auto msg = [](const std::string& u) {
    try {
      a::parse_destination(u);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("http://x:1").find("unknown scheme 'http'"), std::string::npos);
  EXPECT_NE(msg("syslog+tcp://host").find("a port is required"), std::string::npos);
  EXPECT_NE(msg("syslog+tcp://host:0").find("not in 1..65535"), std::string::npos);
  EXPECT_NE(msg("syslog+tcp://host:99999").find("not in 1..65535"), std::string::npos);
  EXPECT_NE(msg("syslog+tcp://host:ab").find("not a number"), std::string::npos);
  EXPECT_NE(msg("syslog+udp://::1:514").find("brackets"), std::string::npos);
  EXPECT_NE(msg("syslog+udp://[::1:514").find("missing ']'"), std::string::npos);
  EXPECT_NE(msg("syslog+udp://[zz]:514").find("not an IPv6 address"), std::string::npos);
  EXPECT_NE(msg("file:").find("needs a path"), std::string::npos);
  EXPECT_NE(msg("collector:514").find("expected syslog+tls://"), std::string::npos);
  EXPECT_NE(msg("syslog+tcp://:514").find("the host is empty"), std::string::npos);
}

TEST(AuditTrail, MemoryQueueDeliversInOrder) {
  Listener l;
  a::TrailOptions o;
  {
    a::Trail t({"syslog+tcp://127.0.0.1:" + std::to_string(l.port())}, o);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(t.submit("<m n=\"" + std::to_string(i) + "\"/>"));
    ASSERT_TRUE(t.flush(std::chrono::steady_clock::now() + std::chrono::hours(1)));
    EXPECT_EQ(t.stats().sent, 50u);
  }
  l.wait_for(50);
  const auto m = l.messages();
  ASSERT_EQ(m.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(m[i].ends_with("<m n=\"" + std::to_string(i) + "\"/>")) << m[i];
  EXPECT_EQ(m[0].rfind("<85>1 ", 0), 0u);
}

TEST(AuditTrail, MemoryQueueCountsDrops) {
  a::TrailOptions o;
  o.queue_limit = 3;
  o.close_timeout = std::chrono::milliseconds(0);
  // Port 1 on loopback: nothing listens, every connect is refused; the queue fills.
  a::Trail t({"syslog+tcp://127.0.0.1:1"}, o);
  int ok = 0;
  for (int i = 0; i < 10; ++i) ok += t.submit("<m/>");
  EXPECT_LE(ok, 4);
  EXPECT_GE(t.stats().dropped, 6u);
}

TEST(AuditTrail, SpoolKeepsOrderAcrossRestart) {
  const std::string spool = tmpdir("spool");
  const int port = [] {
    Listener probe;
    return probe.port();
  }();  // a port nobody listens on now (the probe is gone)
  a::TrailOptions o;
  o.spool_dir = spool;
  o.close_timeout = std::chrono::milliseconds(0);
  o.segment_bytes = 2000;  // several segments
  const std::string url = "syslog+tcp://127.0.0.1:" + std::to_string(port);
  {
    a::Trail t({url}, o);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(t.submit("<m n=\"" + std::to_string(i) + "\"/>"));
    EXPECT_EQ(t.stats().spooled, 40u);
  }  // collector down all along: everything stays spooled
  std::size_t segs = 0;
  for (const auto& e : std::filesystem::directory_iterator(spool)) segs += e.path().filename().string().rfind("seg-", 0) == 0;
  EXPECT_GT(segs, 1u);
  // A torn record at the end (a kill inside submit(), which never returned) is cut at the next start.
  std::string last;
  for (const auto& e : std::filesystem::directory_iterator(spool))
    if (e.path().filename().string().rfind("seg-", 0) == 0 && e.path().string() > last) last = e.path().string();
  {
    FILE* f = std::fopen(last.c_str(), "a");
    std::fputs("41 100 <torn", f);
    std::fclose(f);
  }
  // The collector comes back on that port; a new Trail sends the rest, in order.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  listen(fd, 4);
  std::string got;
  std::thread rd([&] {
    const int c = accept(fd, nullptr, nullptr);
    char b[4096];
    for (ssize_t n; (n = recv(c, b, sizeof b, 0)) > 0;) got.append(b, static_cast<std::size_t>(n));
    close(c);
  });
  {
    o.close_timeout = std::chrono::hours(1);
    a::Trail t({url}, o);
    ASSERT_TRUE(t.submit("<m n=\"40\"/>"));
    ASSERT_TRUE(t.flush(std::chrono::steady_clock::now() + std::chrono::hours(1)));
    EXPECT_EQ(t.stats().sent, 41u);
    EXPECT_EQ(t.stats().destinations[0].pending, 0u);
  }
  rd.join();
  close(fd);
  std::size_t at = 0;
  for (int i = 0; i <= 40; ++i) {
    const std::string want = "<m n=\"" + std::to_string(i) + "\"/>";
    EXPECT_EQ(count(got, want), 1u) << want;
    const auto p = got.find(want);
    EXPECT_GE(p, at) << want;
    at = p;
  }
  EXPECT_EQ(got.find("torn"), std::string::npos);
  // Everything sent: the segments the cursor left are gone, a third Trail sends nothing again.
  segs = 0;
  for (const auto& e : std::filesystem::directory_iterator(spool)) segs += e.path().filename().string().rfind("seg-", 0) == 0;
  EXPECT_EQ(segs, 1u);
  {
    a::Trail t({url}, o);
    EXPECT_EQ(t.stats().destinations[0].pending, 0u);
  }
  std::filesystem::remove_all(spool);
}

TEST(AuditTrail, FileDestination) {
  const std::string dir = tmpdir("file");
  {
    a::Trail t({"file:" + dir + "/audit.log"}, {});
    t.submit("<a>one\ntwo</a>");
    t.submit("<b/>");
  }
  FILE* f = std::fopen((dir + "/audit.log").c_str(), "r");
  ASSERT_TRUE(f);
  char line[4096];
  std::vector<std::string> lines;
  while (std::fgets(line, sizeof line, f)) lines.emplace_back(line);
  std::fclose(f);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].ends_with("<a>one&#10;two</a>\n"));
  EXPECT_TRUE(lines[1].ends_with("<b/>\n"));
  std::filesystem::remove_all(dir);
}

TEST(AuditTrail, Ipv6Loopback) {
  const int fd = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (fd >= 0) close(fd);
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  listen(fd, 1);
  std::string got;
  std::thread rd([&] {
    const int c = accept(fd, nullptr, nullptr);
    char b[4096];
    for (ssize_t n; (n = recv(c, b, sizeof b, 0)) > 0;) got.append(b, static_cast<std::size_t>(n));
    close(c);
  });
  {
    a::Trail t({"syslog+tcp://[::1]:" + std::to_string(ntohs(sa.sin6_port))}, {});
    ASSERT_TRUE(t.submit("<v6/>"));
    ASSERT_TRUE(t.flush(std::chrono::steady_clock::now() + std::chrono::hours(1)));
  }
  rd.join();
  close(fd);
  // Octet counting: the length, a space, then the syslog message.
  const auto sp = got.find(' ');
  ASSERT_NE(sp, std::string::npos);
  EXPECT_EQ(std::stoul(got.substr(0, sp)), got.size() - sp - 1);
  EXPECT_TRUE(got.ends_with("<v6/>"));
}

TEST(AuditTrail, UdpOneMessagePerDatagramAndTooLargeIsDropped) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  int big = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  {
    a::Trail t({"syslog+udp://127.0.0.1:" + std::to_string(ntohs(sa.sin_port))}, {});
    ASSERT_TRUE(t.submit("<one/>"));
    ASSERT_TRUE(t.submit("<big>" + std::string(70000, 'x') + "</big>"));  // more than a datagram holds
    ASSERT_TRUE(t.submit("<two/>"));
    ASSERT_TRUE(t.flush(std::chrono::steady_clock::now() + std::chrono::hours(1)));
    const auto s = t.stats();
    EXPECT_EQ(s.sent, 2u);
    EXPECT_EQ(s.dropped, 1u);
    EXPECT_NE(s.last_error.find("too large for UDP"), std::string::npos) << s.last_error;
  }
  std::vector<std::string> got;
  char b[2048];
  for (int i = 0; i < 2; ++i) {
    const ssize_t n = recv(fd, b, sizeof b, 0);
    ASSERT_GT(n, 0);
    got.emplace_back(b, static_cast<std::size_t>(n));
  }
  close(fd);
  EXPECT_TRUE(got[0].rfind("<85>1 ", 0) == 0 && got[0].ends_with("<one/>")) << got[0];  // no length prefix
  EXPECT_TRUE(got[1].ends_with("<two/>")) << got[1];
}

TEST(AuditTrail, OneProcessPerSpool) {
  const std::string spool = tmpdir("lock");
  a::TrailOptions o;
  o.spool_dir = spool;
  o.close_timeout = std::chrono::milliseconds(0);
  {
    a::Trail first({"file:" + spool + "/out.log"}, o);
    try {
      a::Trail second({"file:" + spool + "/out.log"}, o);
      ADD_FAILURE() << "a second Trail opened the same spool";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("is in use by another process"), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(spool);
}
