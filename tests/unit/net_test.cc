// The connection layer (src/net) on loopback: TLS contexts from a policy, verified or permissive, a PS3.15
// profile's versions and suites, and the errors a user sees for a bad certificate file.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include "net/connection.h"
#include "net/tls_context.h"

namespace net = dg::net;
using net::Role;
using net::TlsPolicy;

namespace {

struct Outcome {
  asio::error_code client, server;
  dg::tls::Session session;  // the client's view
};

// One TLS handshake over loopback between a client and a server made from these policies.
Outcome handshake(const TlsPolicy& client, const TlsPolicy& server, const std::string& server_name = "") {
  auto cctx = net::make_context(client, Role::client);
  auto sctx = net::make_context(server, Role::server);
  asio::io_context io;
  net::tcp::acceptor acceptor(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Outcome out;
  std::optional<net::Connection> accepted;
  net::Connection c(io);
  acceptor.async_accept([&](const asio::error_code& ec, net::tcp::socket s) {
    if (ec) {
      out.server = ec;
      return;
    }
    accepted.emplace(std::move(s));
    accepted->async_handshake(*sctx, Role::server, "", "", [&](const asio::error_code& e) {
      out.server = e;
      if (e) accepted->close();
    });
  });
  c.async_connect(acceptor.local_endpoint(), [&](const asio::error_code& ec) {
    if (ec) {
      out.client = ec;
      return;
    }
    c.async_handshake(*cctx, Role::client, server_name, "", [&](const asio::error_code& e) {
      out.client = e;
      if (!e) out.session = c.session();
      c.close();
    });
  });
  io.run();
  return out;
}

TlsPolicy self_signed_server(const std::string& cn = "dg-test.local") {
  TlsPolicy p;
  p.self_signed_cn = cn;
  p.self_signed_ec = true;
  return p;
}

// The certificate a context presents, written as PEM (a trust anchor for the client).
std::string write_certificate_of(const TlsPolicy& p, const std::string& path) {
  auto ctx = net::make_context(p, Role::server);
  X509* cert = SSL_CTX_get0_certificate(ctx->native_handle());
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f || !cert) return "";
  PEM_write_X509(f, cert);
  std::fclose(f);
  return path;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dg-net-test-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

}  // namespace

TEST(TlsPolicy, AProfileGivesItsVersionsAndSuitesWithVerificationOn) {
  const TlsPolicy p = TlsPolicy::from_profile("B.12");
  EXPECT_TRUE(p.verify_peer);
  // PS3.15 B.12 (BCP 195): TLS 1.2 required, 1.3 allowed; the RFC 9325 recommended ECDHE AES-GCM suites.
  EXPECT_EQ(p.min_version, "TLSv1.2");
  EXPECT_EQ(p.max_version, "TLSv1.3");
  EXPECT_NE(p.ciphers.find("ECDHE-RSA-AES128-GCM-SHA256"), std::string::npos) << p.ciphers;
  EXPECT_NE(p.ciphers.find("ECDHE-ECDSA-AES256-GCM-SHA384"), std::string::npos) << p.ciphers;
  EXPECT_EQ(p.ciphers.find("RC4"), std::string::npos) << p.ciphers;
  EXPECT_EQ(p.ciphers.find("CBC"), std::string::npos) << p.ciphers;
  EXPECT_THROW(TlsPolicy::from_profile("B.99"), std::invalid_argument);
}

TEST(TlsPolicy, IanaSuiteNamesBecomeOpenSslNamesAndUnknownOnesAreLeftOut) {
  EXPECT_EQ(net::openssl_cipher_list({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_NO_SUCH_SUITE",
                                      "TLS_RSA_WITH_AES_256_GCM_SHA384"}),
            "ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384");
}

TEST(TlsPolicy, ABadCertificateOrKeyFileIsAnErrorThatNamesIt) {
  TlsPolicy p;
  p.cert_file = temp_path("missing.pem");
  try {
    net::make_context(p, Role::server);
    FAIL() << "a missing certificate file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p.cert_file), std::string::npos) << e.what();
  }
  // A certificate whose key is elsewhere and not given: the key is looked for in the same file, and missing.
  const std::string pem = write_certificate_of(self_signed_server(), temp_path("cert-only.pem"));
  ASSERT_FALSE(pem.empty());
  p.cert_file = pem;
  try {
    net::make_context(p, Role::server);
    FAIL() << "a certificate without its key was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("private key"), std::string::npos) << e.what();
  }
  TlsPolicy bad_suites;
  bad_suites.ciphers = "NO-SUCH-CIPHER";
  EXPECT_THROW(net::make_context(bad_suites, Role::client), std::runtime_error);
  std::filesystem::remove(pem);
}

TEST(Connection, APermissiveClientCompletesAHandshakeWithAnyServer) {
  const Outcome o = handshake(TlsPolicy::permissive(), self_signed_server());
  EXPECT_FALSE(o.client) << o.client.message();
  EXPECT_FALSE(o.server) << o.server.message();
  EXPECT_EQ(o.session.version, "TLSv1.3");
}

TEST(Connection, AVerifyingClientRefusesAServerItDoesNotTrustAndAcceptsOneItDoes) {
  const TlsPolicy server = self_signed_server("dg-test.local");
  TlsPolicy client;
  client.verify_peer = true;  // the system store: a throwaway self-signed certificate is not in it
  EXPECT_TRUE(handshake(client, server, "dg-test.local").client);

  // Trusting exactly that certificate (one key and certificate written once, served and trusted): the
  // handshake completes, and the name must match.
  TlsPolicy same = server;
  same.self_signed_cn.clear();
  auto ctx = net::make_context(server, Role::server);
  const std::string pair = temp_path("pair.pem");
  {
    FILE* f = std::fopen(pair.c_str(), "w");
    ASSERT_NE(f, nullptr);
    PEM_write_X509(f, SSL_CTX_get0_certificate(ctx->native_handle()));
    PEM_write_PrivateKey(f, SSL_CTX_get0_privatekey(ctx->native_handle()), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }
  same.cert_file = pair;
  client.ca_file = pair;  // the certificate in it is the trust anchor; the key is ignored by the verifier
  const Outcome trusted = handshake(client, same, "dg-test.local");
  EXPECT_FALSE(trusted.client) << trusted.client.message();
  EXPECT_FALSE(trusted.session.chain.empty());

  client.verify_name = "other.example";
  EXPECT_TRUE(handshake(client, same, "other.example").client) << "a certificate for another name was accepted";
  std::filesystem::remove(pair);
}

TEST(Connection, AServerThatVerifiesPeersRefusesAClientWithoutACertificate) {
  TlsPolicy server = self_signed_server();
  server.verify_peer = true;
  const Outcome o = handshake(TlsPolicy::permissive(), server);
  EXPECT_TRUE(o.server) << "a client without a certificate completed the handshake";
}

TEST(Connection, AProfileServerRefusesAClientBelowItsVersions) {
  TlsPolicy server = TlsPolicy::from_profile("B.12");
  server.verify_peer = false;
  server.self_signed_cn = "dg-test.local";
  TlsPolicy old = TlsPolicy::permissive();
  old.max_version = "TLSv1.1";
  EXPECT_TRUE(handshake(old, server).client) << "a TLS 1.1 client was served by a B.12 policy";
  const Outcome ok = handshake(TlsPolicy::permissive(), server);
  EXPECT_FALSE(ok.client) << ok.client.message();
  EXPECT_EQ(ok.session.version, "TLSv1.3");
}
