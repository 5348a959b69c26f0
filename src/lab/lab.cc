#include "lab/lab.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <random>
#include <csignal>
#include <stdexcept>

#include "dicom/dimse.h"
#include "dicom/pdu.h"
#include "dicom/pdu_stream.h"
#include "tls/self_signed.h"

namespace dg::lab {

namespace pdu = dicom::pdu;
namespace dimse = dicom::dimse;
namespace uids = dicom::uids;
using tcp = asio::ip::tcp;

namespace {

using uids::kExplicitLE;
using uids::kImplicitLE;
constexpr const char* kLabUid = "2.25.319038944579669305514170399698418424328.1";
constexpr const char* kLabVersion = "DICOMGUARD_LAB_010";
constexpr std::size_t kMaxDataset = 16u << 20;

bool supported(const std::string& as) {
  return as == uids::kVerification || as == uids::kStudyRootFind || as == uids::kStudyRootMove ||
         as == uids::kStudyRootGet || as == uids::kPatientRootFind || as == uids::kPatientRootMove ||
         as == uids::kPatientRootGet || uids::is_storage(as);
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int n = in[i];
    if (i + 1 + n > inlen) break;
    if (n == 5 && std::memcmp(in + i + 1, "dicom", 5) == 0) {
      *out = in + i + 1;
      *outlen = 5;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

const std::vector<Synthetic>& synthetic_patients() {
  static const std::vector<Synthetic> v = {
      {"LABSYNTHETIC^ALPHA", "LAB-0001", "2.25.319038944579669305514170399698418424328.2.1", "20240101"},
      {"LABSYNTHETIC^BRAVO", "LAB-0002", "2.25.319038944579669305514170399698418424328.2.2", "20240202"},
      {"LABSYNTHETIC^CHARLIE", "LAB-0003", "2.25.319038944579669305514170399698418424328.2.3", "20240303"},
  };
  return v;
}

struct Lab::Impl {
  asio::io_context io{1};
  asio::ssl::context tls_ctx{asio::ssl::context::tls_server};
  bool tls_ready = false;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::atomic<std::uint64_t> associations{0}, stored{0};
  mutable std::mutex received_mu;
  std::set<std::string> received;  // SOP Instance UIDs of the objects stored (discarded; UIDs only)
  std::set<std::string> peers;     // addresses that opened an association

  struct Session : std::enable_shared_from_this<Session> {
    using Bytes = std::vector<std::uint8_t>;
    Impl& lab;
    const ServerConfig& cfg;
    tcp::socket sock;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
    asio::steady_timer idle;
    std::array<std::uint8_t, 16384> buf{};
    pdu::StreamReader reader;
    bool associated = false;
    std::map<std::uint8_t, bool> explicit_vr;  // accepted context -> explicit VR little endian
    std::map<std::uint8_t, std::string> as_of;
    Bytes cmd, data;
    std::uint8_t cmd_ctx = 0;
    dimse::Response pending_cmd;
    bool have_cmd = false;
    std::deque<Bytes> outq;
    bool writing = false, closing = false;

    Session(Impl& l, const ServerConfig& c, tcp::socket s) : lab(l), cfg(c), sock(std::move(s)), idle(l.io) {}

    void start() {
      arm();
      if (!cfg.tls) return read();
      tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock, lab.tls_ctx);
      tls->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](const asio::error_code& ec) {
        if (ec) return self->close();
        self->read();
      });
    }
    void arm() {
      idle.expires_after(std::chrono::seconds(30));
      idle.async_wait([self = shared_from_this()](const asio::error_code& ec) {
        if (!ec) self->close();
      });
    }
    void close() {
      asio::error_code ignore;
      idle.cancel();
      sock.close(ignore);
    }
    void read() {
      auto cb = [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
        if (ec) return self->close();
        self->arm();
        self->reader.feed({self->buf.data(), n});
        Bytes p;
        while (!self->closing && self->reader.next(p)) self->on_pdu(p);
        if (!self->reader.error().empty()) {
          self->send(pdu::encode_abort(2, 0), true);
          return;
        }
        if (!self->closing) self->read();
      };
      if (tls) tls->async_read_some(asio::buffer(buf), cb);
      else sock.async_read_some(asio::buffer(buf), cb);
    }
    void send(Bytes b, bool then_close = false) {
      if (then_close) closing = true;
      outq.push_back(std::move(b));
      if (then_close) outq.push_back({});  // marker: close after the queue drains
      if (!writing) write_next();
    }
    void write_next() {
      if (outq.empty()) {
        writing = false;
        return;
      }
      if (outq.front().empty()) {
        outq.clear();
        return close();
      }
      writing = true;
      auto cb = [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
        if (ec) return self->close();
        self->outq.pop_front();
        self->write_next();
      };
      if (tls) asio::async_write(*tls, asio::buffer(outq.front()), cb);
      else asio::async_write(sock, asio::buffer(outq.front()), cb);
    }

    void on_pdu(const Bytes& p) {
      if (!associated) {
        std::string err;
        auto rq = pdu::parse_rq(p, err);
        if (!rq) return send(pdu::encode_abort(2, 1), true);
        if (!cfg.any_called && rq->called_ae != cfg.ae_title) return send(pdu::encode_rj(1, 1, 7), true);
        if (!cfg.allowed_calling.empty() && !cfg.allowed_calling.count(rq->calling_ae))
          return send(pdu::encode_rj(1, 1, 3), true);
        pdu::AssociateAc ac;
        ac.called_ae = rq->called_ae;
        ac.calling_ae = rq->calling_ae;
        ac.implementation_uid = kLabUid;
        ac.implementation_version = kLabVersion;
        for (const auto& c : rq->contexts) {
          pdu::ContextAc r{c.id, 3, kImplicitLE};
          if (supported(c.abstract_syntax)) {
            r.result = 4;
            for (const auto& ts : c.transfer_syntaxes)
              if (ts == kExplicitLE || (ts == kImplicitLE && r.result != 0)) {
                r.result = 0;
                r.transfer_syntax = ts;
              }
            if (r.result == 0) {
              explicit_vr[c.id] = r.transfer_syntax == kExplicitLE;
              as_of[c.id] = c.abstract_syntax;
            }
          }
          ac.contexts.push_back(r);
        }
        associated = true;
        ++lab.associations;
        {
          asio::error_code ec;
          const auto peer = sock.remote_endpoint(ec);
          std::lock_guard lk(lab.received_mu);
          if (!ec && lab.peers.size() < 100000) lab.peers.insert(peer.address().to_string());
        }
        return send(pdu::encode(ac));
      }
      const auto parsed = pdu::parse(p);
      switch (parsed.type) {
        case 5: return send(pdu::encode_release_rp(), true);
        case 7: return close();
        case 4: break;
        default: return send(pdu::encode_abort(2, 2), true);
      }
      for (const auto& v : parsed.pdvs) {
        if (!explicit_vr.count(v.context_id)) return send(pdu::encode_abort(2, 6), true);
        Bytes& target = v.command ? cmd : data;
        if (target.size() + v.data.size() > kMaxDataset) return send(pdu::encode_abort(2, 0), true);
        target.insert(target.end(), v.data.begin(), v.data.end());
        if (!v.last) continue;
        if (v.command) {
          pending_cmd = dimse::parse_response(cmd);
          cmd.clear();
          cmd_ctx = v.context_id;
          have_cmd = pending_cmd.error.empty();
          if (!have_cmd) return send(pdu::encode_abort(2, 6), true);
          if (!pending_cmd.has_dataset) run();
        } else if (have_cmd) {
          run();
        }
      }
    }

    void respond(std::uint16_t field, std::uint16_t status, const Bytes* dataset = nullptr, int rem = -1,
                 int done = -1, int failed = -1, int warn = -1) {
      Bytes out = pdu::encode_pdata(cmd_ctx, true, true,
                                    dimse::response_command(pending_cmd.affected_sop_class, field,
                                                            pending_cmd.message_id, status, dataset != nullptr, rem,
                                                            done, failed, warn));
      if (dataset) {
        Bytes d = pdu::encode_pdata(cmd_ctx, false, true, *dataset);
        out.insert(out.end(), d.begin(), d.end());
      }
      send(std::move(out));
    }

    std::vector<const Synthetic*> matches(const dimse::Identifier& id) {
      std::vector<const Synthetic*> m;
      for (const Synthetic& s : synthetic_patients()) {
        const bool pid = id.patient_id.empty() || id.patient_id == "*" || id.patient_id == s.id;
        const bool name = id.patient_name.empty() || id.patient_name == "*" || id.patient_name == s.name;
        const bool study = id.study_uid.empty() || id.study_uid == s.study_uid;
        if (pid && name && study) m.push_back(&s);
      }
      return m;
    }

    void run() {
      have_cmd = false;
      const bool ev = explicit_vr[cmd_ctx];
      const std::uint16_t field = pending_cmd.command_field;
      Bytes ds;
      ds.swap(data);
      switch (field) {
        case dimse::c_echo_rq: return respond(dimse::c_echo_rsp, 0x0000);
        case dimse::c_store_rq: {
          ++lab.stored;
          std::lock_guard lk(lab.received_mu);
          if (lab.received.size() < 100000) lab.received.insert(pending_cmd.affected_sop_instance);
          return respond(dimse::c_store_rsp, 0x0000);
        }
        case dimse::c_find_rq: {
          const auto id = dimse::parse_identifier(ds, ev);
          if (!id.ok) return respond(dimse::c_find_rsp, 0xA900);  // identifier does not match SOP class
          for (const Synthetic* s : matches(id)) {
            Bytes m = dimse::study_match(s->name, s->id, s->study_uid, s->date, ev);
            respond(dimse::c_find_rsp, 0xFF00, &m);
          }
          return respond(dimse::c_find_rsp, 0x0000);
        }
        case dimse::c_move_rq:
        case dimse::c_get_rq: {
          const auto id = dimse::parse_identifier(ds, ev);
          const std::uint16_t rsp = field == dimse::c_move_rq ? dimse::c_move_rsp : dimse::c_get_rsp;
          const auto m = id.ok ? matches(id) : std::vector<const Synthetic*>{};
          if (m.empty()) return respond(rsp, 0x0000, nullptr, 0, 0, 0, 0);
          // The lab sends no images anywhere: a retrieve of a real study is refused for lack of resources.
          return respond(rsp, 0xA702, nullptr, 0, 0, static_cast<int>(m.size()), 0);
        }
        default: return respond(static_cast<std::uint16_t>(field | 0x8000), 0x0211);  // unrecognized operation
      }
    }
  };

  std::vector<std::unique_ptr<ServerConfig>> configs;

  void accept(tcp::acceptor& a, const ServerConfig& c) {
    a.async_accept([this, &a, &c](const asio::error_code& ec, tcp::socket s) {
      if (ec) return;
      asio::error_code ignore;
      s.set_option(tcp::no_delay(true), ignore);
      std::make_shared<Session>(*this, c, std::move(s))->start();
      accept(a, c);
    });
  }
};

Lab::Lab() : impl_(std::make_unique<Impl>()) {}
Lab::~Lab() = default;

std::uint16_t Lab::add(const ServerConfig& cfg) {
  auto& c = *impl_->configs.emplace_back(std::make_unique<ServerConfig>(cfg));
  if (c.tls && !impl_->tls_ready) {
    tls::use_self_signed(impl_->tls_ctx.native_handle(), "dicomguard-lab", tls::KeyType::rsa2048);
    SSL_CTX_set_min_proto_version(impl_->tls_ctx.native_handle(), TLS1_2_VERSION);
    // TLS 1.2 with the RFC 9325 ECDHE AES-GCM and ChaCha20 suites only, and TLS 1.3: PS3.15 B.12.
    SSL_CTX_set_cipher_list(impl_->tls_ctx.native_handle(),
                            "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305");
    SSL_CTX_set_alpn_select_cb(impl_->tls_ctx.native_handle(), select_alpn, nullptr);
    impl_->tls_ready = true;
  }
  auto a = std::make_unique<tcp::acceptor>(impl_->io);
  asio::error_code ec;
  const auto addr = asio::ip::make_address(c.bind, ec);
  if (ec) throw std::runtime_error("not an address to listen on: " + c.bind);
  const tcp::endpoint ep(addr, c.port);
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + c.bind + ":" + std::to_string(c.port) + ": " + ec.message());
  c.port = a->local_endpoint().port();
  impl_->accept(*a, c);
  impl_->acceptors.push_back(std::move(a));
  return c.port;
}

void Lab::run(bool handle_signals) {
  std::unique_ptr<asio::signal_set> sig;
  if (handle_signals) {
    sig = std::make_unique<asio::signal_set>(impl_->io, SIGINT, SIGTERM);
    sig->async_wait([this](const asio::error_code& ec, int) {
      if (!ec) impl_->io.stop();
    });
  }
  impl_->io.run();
}

void Lab::stop() { impl_->io.stop(); }
std::uint64_t Lab::associations() const { return impl_->associations; }
std::uint64_t Lab::stored() const { return impl_->stored; }
bool Lab::associated_from(const std::string& address) const {
  std::lock_guard lk(impl_->received_mu);
  return impl_->peers.count(address) > 0;
}
bool Lab::received(const std::string& uid) const {
  std::lock_guard lk(impl_->received_mu);
  return impl_->received.count(uid) > 0;
}

}  // namespace dg::lab
