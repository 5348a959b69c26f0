// The PDU and DIMSE codec against a real DCMTK storescp on a loopback port: association, presentation context
// results, C-ECHO, release. Only 127.0.0.1 is contacted.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "dicom/associate.h"
#include "dicom/dimse.h"
#include "dicom/pdu.h"

extern char** environ;

using namespace dg::dicom;

namespace {

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

int connect_loopback(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  int one = 1;
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{10, 0};  // a hung peer fails the test instead of hanging it
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}

std::string hex(std::span<const std::uint8_t> b) {
  std::string out;
  char buf[4];
  for (std::uint8_t c : b) {
    std::snprintf(buf, sizeof buf, "%02x ", c);
    out += buf;
  }
  return out;
}

bool send_all(int s, const std::vector<std::uint8_t>& b) {
  return ::send(s, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size());
}

bool recv_exact(int s, std::uint8_t* p, std::size_t n) {
  while (n) {
    ssize_t r = ::recv(s, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::vector<std::uint8_t> read_pdu(int s) {
  std::vector<std::uint8_t> b(6);
  if (!recv_exact(s, b.data(), 6)) return {};
  std::string err;
  auto total = pdu::total_length(b, err);
  if (!total) return {};
  b.resize(*total);
  if (!recv_exact(s, b.data() + 6, *total - 6)) return {};
  return b;
}

class StoreScp : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = free_port();
    dir_ = ::testing::TempDir() + "/storescp-" + std::to_string(port_);
    std::string mk = "mkdir -p '" + dir_ + "'";
    ASSERT_EQ(std::system(mk.c_str()), 0);
    std::string port = std::to_string(port_);
    std::vector<std::string> args = {"storescp", "--aetitle", "STORESCP", "--output-directory", dir_, port};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(::posix_spawnp(&pid_, "storescp", nullptr, nullptr, argv.data(), environ), 0)
        << "storescp (DCMTK) must be installed: scripts/setup-debian.sh";
    // Wait until it listens: a bounded number of tries, not a time limit on the test.
    for (int i = 0; i < 200; ++i) {
      int s = connect_loopback(port_);
      if (s >= 0) {
        ::close(s);
        return;
      }
      ::usleep(25'000);
    }
    FAIL() << "storescp did not start listening on 127.0.0.1:" << port_;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::string rm = "rm -rf '" + dir_ + "'";
    (void)std::system(rm.c_str());
  }
  pdu::AssociateRq request(std::vector<pdu::ContextRq> contexts, std::string called = "STORESCP") {
    return pdu::AssociateRq{called, "DICOMGUARD", std::move(contexts), 16384, "1.2.826.0.1.3680043.10.1411",
                            "DICOMGUARD_010"};
  }
  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
};

}  // namespace

TEST_F(StoreScp, AssociatesEchoesAndReleases) {
  int s = connect_loopback(port_);
  ASSERT_GE(s, 0);
  ASSERT_TRUE(send_all(s, pdu::encode(request({{1, uids::kVerification, {"1.2.840.10008.1.2"}}}))));
  auto reply = pdu::parse(read_pdu(s));
  ASSERT_TRUE(reply.error.empty()) << reply.error;
  ASSERT_EQ(reply.type, 2) << pdu::type_name(reply.type);
  ASSERT_TRUE(reply.ac);
  ASSERT_EQ(reply.ac->contexts.size(), 1u);
  EXPECT_EQ(reply.ac->contexts[0].result, 0);
  EXPECT_EQ(reply.ac->contexts[0].transfer_syntax, "1.2.840.10008.1.2");
  EXPECT_EQ(reply.ac->implementation_uid.rfind("1.2.276.0.7230010.3", 0), 0u) << reply.ac->implementation_uid;
  EXPECT_EQ(reply.ac->implementation_version.rfind("OFFIS_DCMTK_", 0), 0u) << reply.ac->implementation_version;

  ASSERT_TRUE(send_all(s, pdu::encode_pdata(1, true, true, dimse::echo_rq(42))));
  auto rsp = pdu::parse(read_pdu(s));
  ASSERT_TRUE(rsp.error.empty()) << rsp.error;
  ASSERT_EQ(rsp.pdvs.size(), 1u);
  EXPECT_TRUE(rsp.pdvs[0].command);
  auto r = dimse::parse_response(rsp.pdvs[0].data);
  EXPECT_TRUE(r.error.empty()) << r.error << ": " << hex(rsp.pdvs[0].data);
  EXPECT_EQ(r.command_field, dimse::c_echo_rsp);
  EXPECT_EQ(r.responded_id, 42);
  EXPECT_EQ(r.status, 0x0000);
  EXPECT_EQ(dimse::status_category(r.status), dimse::Category::success);

  ASSERT_TRUE(send_all(s, pdu::encode_release_rq()));
  auto rp = pdu::parse(read_pdu(s));
  EXPECT_EQ(rp.type, 6) << pdu::type_name(rp.type);
  ::close(s);
}

TEST_F(StoreScp, UnsupportedAbstractSyntaxIsRefusedPerContext) {
  int s = connect_loopback(port_);
  ASSERT_GE(s, 0);
  ASSERT_TRUE(send_all(s, pdu::encode(request({{1, uids::kVerification, {"1.2.840.10008.1.2"}},
                                                {3, uids::kStudyRootFind, {"1.2.840.10008.1.2"}}}))));
  auto reply = pdu::parse(read_pdu(s));
  ASSERT_TRUE(reply.ac) << reply.error;
  ASSERT_EQ(reply.ac->contexts.size(), 2u);
  EXPECT_EQ(reply.ac->contexts[0].result, 0);
  EXPECT_EQ(reply.ac->contexts[1].id, 3);
  EXPECT_EQ(reply.ac->contexts[1].result, 3);  // abstract syntax not supported: storescp answers no queries
  ASSERT_TRUE(send_all(s, pdu::encode_release_rq()));
  EXPECT_EQ(pdu::parse(read_pdu(s)).type, 6);
  ::close(s);
}

TEST_F(StoreScp, NonDicomBytesGetAnAbortOrAClosedConnection) {
  // What a scanner sees when it speaks the wrong protocol: DCMTK answers an unrecognised PDU type by closing the
  // connection (it logs "Unrecognized PDU type"); an A-ABORT would be acceptable too, anything else is not.
  int s = connect_loopback(port_);
  ASSERT_GE(s, 0);
  std::vector<std::uint8_t> http = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '0', '\r', '\n', '\r', '\n'};
  ASSERT_TRUE(send_all(s, http));
  std::uint8_t first[6];
  const bool got = recv_exact(s, first, sizeof first);
  if (got) {
    EXPECT_EQ(first[0], 7) << "expected an A-ABORT, got PDU type " << int(first[0]);
  }
  ::close(s);
}

namespace {

// DCMTK's dcmqrscp with an empty database that answers any calling AE on called AE "COMMON".
class QrScp : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = free_port();
    dir_ = ::testing::TempDir() + "/dcmqrscp-" + std::to_string(port_);
    std::string mk = "mkdir -p '" + dir_ + "/db'";
    ASSERT_EQ(std::system(mk.c_str()), 0);
    const std::string cfg = dir_ + "/dcmqrscp.cfg";
    std::FILE* f = std::fopen(cfg.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f,
                 "NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 4\n"
                 "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                 "AETable BEGIN\nCOMMON %s/db RW (10, 64mb) ANY\nAETable END\n",
                 port_, dir_.c_str());
    std::fclose(f);
    std::vector<std::string> args = {"dcmqrscp", "-c", cfg};  // default (forking) mode: --single-process crashes
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(::posix_spawnp(&pid_, "dcmqrscp", nullptr, nullptr, argv.data(), environ), 0);
    for (int i = 0; i < 200; ++i) {
      int s = connect_loopback(port_);
      if (s >= 0) {
        ::close(s);
        return;
      }
      ::usleep(25'000);
    }
    FAIL() << "dcmqrscp did not start listening on 127.0.0.1:" << port_;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::string rm = "rm -rf '" + dir_ + "'";
    (void)std::system(rm.c_str());
  }
  // Associates with one context for `abstract_syntax` (implicit VR LE); returns the socket or -1.
  int associate(const std::string& abstract_syntax, const std::string& called = "COMMON") {
    int s = connect_loopback(port_);
    if (s < 0) return -1;
    pdu::AssociateRq rq{called, "DICOMGUARD", {{1, abstract_syntax, {"1.2.840.10008.1.2"}}}, 16384,
                        "1.2.826.0.1.3680043.10.1411", "DICOMGUARD_010"};
    send_all(s, pdu::encode(rq));
    last_ = pdu::parse(read_pdu(s));
    return s;
  }
  // Sends a command and its identifier, returns the final (non-pending) response and how many were pending.
  dimse::Response exchange(int s, const std::vector<std::uint8_t>& cmd, const std::vector<std::uint8_t>& ident,
                           int& pending) {
    send_all(s, pdu::encode_pdata(1, true, true, cmd));
    send_all(s, pdu::encode_pdata(1, false, true, ident));
    pending = 0;
    for (int guard = 0; guard < 1000; ++guard) {
      auto p = pdu::parse(read_pdu(s));
      if (!p.error.empty() || p.pdvs.empty()) {
        dimse::Response bad;
        bad.error = p.error.empty() ? "no PDV" : p.error;
        return bad;
      }
      for (const auto& pdv : p.pdvs) {
        if (!pdv.command) continue;  // a pending match's identifier: only counted, never kept
        auto r = dimse::parse_response(pdv.data);
        if (dimse::status_category(r.status) == dimse::Category::pending) {
          ++pending;
          continue;
        }
        return r;
      }
    }
    dimse::Response bad;
    bad.error = "too many responses";
    return bad;
  }
  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
  pdu::Parsed last_;
};

}  // namespace

TEST_F(QrScp, ZeroMatchStudyQueryProvesQueriesAreOpen) {
  int s = associate(uids::kStudyRootFind);
  ASSERT_GE(s, 0);
  ASSERT_TRUE(last_.ac) << last_.error << " " << pdu::type_name(last_.type);
  ASSERT_EQ(last_.ac->contexts.at(0).result, 0);
  int pending = -1;
  auto r = exchange(s, dimse::find_rq(1, uids::kStudyRootFind),
                    dimse::study_identifier("DG-NEVER-EXISTS-7f3a9c", false), pending);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.command_field, dimse::c_find_rsp);
  EXPECT_EQ(r.status, 0x0000);  // success ...
  EXPECT_EQ(pending, 0);        // ... with zero matches: no patient data came back
  send_all(s, pdu::encode_release_rq());
  EXPECT_EQ(pdu::parse(read_pdu(s)).type, 6);
  ::close(s);
}

TEST_F(QrScp, MoveOfANeverExistingStudyIsAnsweredWithoutSubOperations) {
  // dcmqrscp 3.6.7 matches first and looks up the destination only for sub-operations: a random study UID gives
  // a final success with zero sub-operations, whatever the destination. That answer alone proves C-MOVE is open
  // to this caller; a server that checks the destination first answers 0xA801 instead (both count as answered).
  int s = associate(uids::kStudyRootMove);
  ASSERT_GE(s, 0);
  ASSERT_TRUE(last_.ac) << last_.error;
  ASSERT_EQ(last_.ac->contexts.at(0).result, 0);
  int pending = -1;
  auto r = exchange(s, dimse::move_rq(3, uids::kStudyRootMove, "DGNOSUCHAE"),
                    dimse::move_identifier("2.25.123456789012345678901234567890", false), pending);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.command_field, dimse::c_move_rsp);
  EXPECT_EQ(r.status, 0x0000) << std::hex << r.status;
  EXPECT_EQ(pending, 0);
  send_all(s, pdu::encode_release_rq());
  EXPECT_EQ(pdu::parse(read_pdu(s)).type, 6);
  ::close(s);
}

TEST_F(QrScp, UnknownCalledAeIsRejectedWithADecodedReason) {
  int s = associate(uids::kVerification, "NOT-COMMON");
  ASSERT_GE(s, 0);
  ASSERT_TRUE(last_.rj) << pdu::type_name(last_.type) << " " << last_.error;
  EXPECT_EQ(last_.rj->source, 1);
  EXPECT_STREQ(pdu::rj_reason_name(last_.rj->source, last_.rj->reason), "called-AE-title-not-recognized");
  ::close(s);
}

namespace {

// Runs a DCMTK client against a listener of ours on 127.0.0.1 and returns the first PDU it sends (answered with an
// A-ABORT). "PORT" in `args` is replaced by the listener's port.
std::vector<std::uint8_t> first_pdu_of(std::vector<std::string> args) {
  const int port = free_port();
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0) {
    ::close(l);
    return {};
  }
  for (auto& arg : args)
    if (arg == "PORT") arg = std::to_string(port);
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  std::vector<std::uint8_t> pdu;
  posix_spawn_file_actions_t quiet;  // the client's complaint about the abort is expected
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
  const int spawned = ::posix_spawnp(&pid, argv[0], &quiet, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (spawned == 0) {
    pollfd p{l, POLLIN, 0};
    if (::poll(&p, 1, 10'000) == 1) {
      int c = ::accept(l, nullptr, nullptr);
      timeval tv{10, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      pdu = read_pdu(c);
      send_all(c, pdu::encode_abort());
      ::close(c);
    } else {
      ::kill(pid, SIGTERM);
    }
    ::waitpid(pid, nullptr, 0);
  }
  ::close(l);
  return pdu;
}

}  // namespace

// A-ASSOCIATE-RQs as DCMTK's clients send them, parsed whole and re-encoded byte for byte: what a relay forwards.
TEST(DcmtkClients, RequestsRoundTripByteForByte) {
  const std::string ct = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";
  struct Client {
    std::vector<std::string> args;
    std::size_t user_identities, roles;
  };
  const std::vector<Client> clients = {
      {{"echoscu", "-aec", "ANY-SCP", "127.0.0.1", "PORT"}, 0, 0},
      {{"storescu", "-aec", "STORESCP", "--user", "alice", "--password", "s3cr3t-pw", "--pos-response", "127.0.0.1",
        "PORT", ct},
       1, 0},
      {{"getscu", "-aec", "ANY-SCP", "-k", "0008,0052=STUDY", "-k", "0020,000D=1.2.3", "127.0.0.1", "PORT"}, 0, 100},
  };
  for (const Client& c : clients) {
    const auto b = first_pdu_of(c.args);
    ASSERT_FALSE(b.empty()) << c.args[0] << " sent nothing (DCMTK must be installed: scripts/setup-debian.sh)";
    std::string err;
    auto a = pdu::parse_associate(b, err);
    ASSERT_TRUE(a) << c.args[0] << ": " << err << ": " << hex(b);
    EXPECT_EQ(a->type, 1);
    EXPECT_EQ(pdu::encode(*a), b) << c.args[0];
    EXPECT_EQ(a->called(), c.args[2]);
    EXPECT_EQ(a->user_items<pdu::UserIdentityRq>().size(), c.user_identities) << c.args[0];
    EXPECT_GE(a->user_items<pdu::RoleSelection>().size(), c.roles) << c.args[0];
    for (const auto* id : a->user_items<pdu::UserIdentityRq>()) {
      EXPECT_EQ(id->identity_type, 2);
      EXPECT_EQ(id->username(), "alice");
      EXPECT_EQ(id->secondary.bytes, std::vector<std::uint8_t>({'s', '3', 'c', 'r', '3', 't', '-', 'p', 'w'}));
    }
    EXPECT_EQ(pdu::parse_rq(b, err), pdu::summary_rq(*a));
  }
}

// storescp's A-ASSOCIATE-AC to a request carrying the sub-items it does not negotiate (role selection, user
// identity, asynchronous operations): parsed whole, re-encoded byte for byte, summarized as parse() does.
TEST_F(StoreScp, AcceptToARichRequestRoundTripsByteForByte) {
  pdu::Associate rq = pdu::to_associate(request({{1, uids::kVerification, {"1.2.840.10008.1.2"}},
                                                 {3, uids::kSecondaryCapture, {"1.2.840.10008.1.2"}}}));
  auto& ui = std::get<pdu::UserInformation>(rq.items.back());
  ui.sub_items.push_back(pdu::AsyncOperations{1, 1});
  ui.sub_items.push_back(pdu::RoleSelection{uids::kSecondaryCapture, 1, 1});
  ui.sub_items.push_back(pdu::UserIdentityRq{1, 1, {{'a', 'l', 'i', 'c', 'e'}}, {}});
  int s = connect_loopback(port_);
  ASSERT_GE(s, 0);
  ASSERT_TRUE(send_all(s, pdu::encode(rq)));
  const auto b = read_pdu(s);
  std::string err;
  auto ac = pdu::parse_associate(b, err);
  ASSERT_TRUE(ac) << err << ": " << hex(b);
  EXPECT_EQ(ac->type, 2);
  EXPECT_EQ(pdu::encode(*ac), b);
  const auto parsed = pdu::parse(b);
  ASSERT_TRUE(parsed.ac) << parsed.error;
  EXPECT_EQ(*parsed.ac, pdu::summary_ac(*ac));
  ASSERT_EQ(parsed.ac->contexts.size(), 2u);
  EXPECT_EQ(parsed.ac->contexts[1].result, 0);
  ASSERT_TRUE(send_all(s, pdu::encode_release_rq()));
  EXPECT_EQ(pdu::parse(read_pdu(s)).type, 6);
  ::close(s);
}
