#include "scan/tls_probe.h"

#include <algorithm>

#include "tls/suites.h"
#include "util/random_seed.h"

namespace dg::scan {

using namespace dg::tls;


TlsProbe::TlsProbe(Endpoint ep, TlsOptions opt)
    : ep_(std::move(ep)), opt_(std::move(opt)), rng_(opt_.seed ? opt_.seed : util::random_seed()) {
  r_.ep = ep_;
  r_.full_mode = opt_.full;
}

std::vector<std::uint16_t> TlsProbe::candidates(std::uint16_t v) const {
  std::vector<std::uint16_t> out;
  for (const Suite& s : all_suites())
    if (s.tls13() == (v == TLSv1_3)) out.push_back(s.code);
  return out;
}

tls::HelloSpec TlsProbe::spec_for(std::uint16_t v, std::vector<std::uint16_t> suites) {
  HelloSpec s;
  s.version = v == TLSv1_3 ? static_cast<std::uint16_t>(TLSv1_2) : v;
  if (v == TLSv1_3) s.versions = {TLSv1_3};
  s.suites = std::move(suites);
  s.groups = default_groups();
  if (v >= TLSv1_2) s.sig_algs = default_sig_algs();
  s.alpn = {"dicom"};
  s.sni = ep_.host;
  s.reneg_scsv = v < TLSv1_3;
  s.key_share = v == TLSv1_3;
  for (auto& b : s.random) b = static_cast<std::uint8_t>(rng_());
  return s;
}

void TlsProbe::push_hello(std::string purpose, HelloSpec spec, std::function<void(const HelloOutcome&)> f,
                          bool front) {
  Job j{Job::Kind::hello, std::move(spec), std::move(purpose), std::move(f), {}, {}, {}};
  if (front) jobs_.push_front(std::move(j));
  else jobs_.push_back(std::move(j));
}

std::uint16_t TlsProbe::best_legacy_version() const {
  for (std::uint16_t v : {TLSv1_2, TLSv1_1, TLSv1_0, SSLv3}) {
    auto it = r_.versions.find(v);
    if (it != r_.versions.end() && it->second) return v;
  }
  return 0;
}

Step TlsProbe::begin() {
  for (std::uint16_t v : {TLSv1_2, TLSv1_3, TLSv1_1, TLSv1_0, SSLv3}) {
    HelloSpec s = spec_for(v, candidates(v));
    s.deflate = v < TLSv1_3;  // does the server accept compression (CRIME)?
    push_hello("version", std::move(s), [this, v](const HelloOutcome& o) { on_version(v, o); });
  }
  jobs_.push_back(Job{Job::Kind::plan, {}, "plan", {}, {}, {}, [this] { plan_rest(); }});
  return next();
}

Step TlsProbe::next() {
  while (!jobs_.empty()) {
    Job j = std::move(jobs_.front());
    jobs_.pop_front();
    if (j.kind == Job::Kind::plan) {
      j.plan();
      continue;
    }
    if (r_.handshakes >= opt_.budget) {
      r_.budget_exhausted = true;
      jobs_.clear();
      break;
    }
    ++r_.handshakes;
    cur_ = std::move(j);
    if (cur_->kind == Job::Kind::hello) {
      flight_ = ServerFlight();
      reads_ = 0;
      hello_started_ = std::chrono::steady_clock::now();
      return Step::connect(false, opt_.timeout);
    }
    if (cur_->full.associated) {
      DimseOptions d;
      d.discover = true;
      d.tls_only = true;
      d.try_tls = false;
      d.timeout = opt_.timeout;
      d.called_aes = opt_.called_aes;
      d.seed = opt_.seed ? opt_.seed + static_cast<std::uint64_t>(r_.handshakes) : 0;
      dimse_ = std::make_unique<DimseProbe>(ep_, d);
      Step s = dimse_->begin();
      s.identity = cur_->full.identity;
      s.alpn = cur_->full.alpn_offered;
      return s;
    }
    Step s = Step::connect(true, opt_.timeout, cur_->full.alpn_offered);
    s.identity = cur_->full.identity;
    return s;
  }
  cur_.reset();
  if (r_.answer.empty()) r_.answer = r_.tls ? "tls" : "closed";
  return Step::finish();
}

Step TlsProbe::on_connected(const std::string& v, const std::string& a) {
  r_.tcp_open = true;
  if (!cur_) return Step::finish();
  if (cur_->kind == Job::Kind::hello) {
    hello_sent_ = WallClock::now();
    hello_answered_ = {};
    return Step::send(build_client_hello(cur_->spec), opt_.timeout);
  }
  cur_->full.handshake = true;
  if (dimse_) return from_dimse(dimse_->on_connected(v, a));
  return full_done();
}

void TlsProbe::on_tls_session(const TlsSession& s) {
  if (!cur_ || cur_->kind != Job::Kind::full) return;
  cur_->full.cert_requested = cur_->full.cert_requested || s.cert_requested;
  if (s.completed) cur_->full.session = s;
  if (dimse_) dimse_->on_tls_session(s);
}

Step TlsProbe::on_data(std::span<const std::uint8_t> b) {
  if (!cur_) return Step::finish();
  if (cur_->kind == Job::Kind::full) {
    if (dimse_) return from_dimse(dimse_->on_data(b));
    return full_done();
  }
  if (hello_answered_ == WallClock::time_point{}) hello_answered_ = WallClock::now();
  const ServerFlight::State st = flight_.feed(b);
  if (st == ServerFlight::State::need_more) {
    // A server trickling bytes cannot hold a hello forever: a few reads and three step timeouts at most.
    const bool slow = std::chrono::steady_clock::now() - hello_started_ > 3 * opt_.timeout;
    if (++reads_ <= 256 && !slow) return Step::receive(opt_.timeout);
    HelloOutcome o;
    o.outcome = "timeout";
    o.detail = "the server's answer did not end in time";
    return hello_done(std::move(o));
  }
  HelloOutcome o;
  switch (st) {
    case ServerFlight::State::complete: o.outcome = flight_.hello() && flight_.hello()->hrr ? "hello-retry" : "server-hello"; break;
    case ServerFlight::State::alert: o.outcome = "alert"; break;
    default: o.outcome = "malformed"; o.detail = flight_.error(); break;
  }
  return hello_done(std::move(o));
}

Step TlsProbe::on_failure(Failure f, const std::string& detail) {
  if (!cur_) return Step::finish();
  if (cur_->kind == Job::Kind::full) {
    // No answer before the OpenSSL handshake completed: silence, which full_done() may ask about once more.
    if (f == Failure::timeout && !cur_->full.handshake) {
      cur_->full.timed_out = true;
      cur_->full.failure = detail;
    }
    if (dimse_) return from_dimse(dimse_->on_failure(f, detail));
    cur_->full.failure = detail;
    return full_done();
  }
  HelloOutcome o;
  o.outcome = failure_name(f);
  o.detail = detail;
  // A server that sent a complete ServerHello and then closed still answered.
  if (flight_.hello() && !flight_.hello()->hrr && flight_.hello()->version < TLSv1_3) o.outcome = "server-hello";
  return hello_done(std::move(o));
}

Step TlsProbe::hello_done(HelloOutcome o) {
  o.purpose = cur_->purpose;
  o.offered = cur_->spec.versions.empty() ? cur_->spec.version : cur_->spec.versions.front();
  o.hello = flight_.hello();
  o.kx = flight_.key_exchange();
  o.certificates = flight_.certificates();
  o.cert_request = flight_.certificate_request();
  if (o.outcome == "alert") {
    o.alert = flight_.alert_description();
    o.detail = alert_name(o.alert);
  }
  if (o.hello || o.outcome == "alert") r_.tls = true;
  // gmt_unix_time (RFC 5246 7.4.1.2), a time or random: facts() decides from all of them. TLS 1.3 randoms never
  // carry one.
  if (o.hello && !o.hello->hrr && o.hello->version <= 0x0303 && hello_answered_ != WallClock::time_point{} &&
      r_.gmt.size() < 64)
    r_.gmt.push_back({o.hello->gmt_unix_time, hello_sent_, hello_answered_});
  // A TLS server that answered before and now says nothing within the step timeout is busy (single-process
  // servers such as DCMTK's storescp stall on another client), not refusing: ask once more before concluding.
  if (r_.tls && !o.hello && o.outcome == "timeout" && cur_->retries < 1) {
    ++r_.retries;
    Job again = std::move(*cur_);
    ++again.retries;
    cur_.reset();
    jobs_.push_front(std::move(again));
    return next();
  }
  if (!r_.tls && (o.outcome == "refused" || o.outcome == "unreachable" || o.outcome == "malformed" ||
                  o.outcome == "timeout")) {
    // The first answer is not TLS (or there is none): nothing more to learn here.
    r_.answer = o.outcome == "malformed" ? "not-tls" : o.outcome;
    r_.hellos.push_back(std::move(o));
    jobs_.clear();
    cur_.reset();
    return next();
  }
  // What every answer teaches, whatever it was asked for.
  if (o.hello && !o.hello->hrr && o.hello->version < TLSv1_3 && o.hello->version == o.offered) {
    if (o.purpose == "version") {
      // Renegotiation and EMS as the highest version up to TLS 1.2 answers them (SSLv3 has no extensions).
      if (o.hello->version > flags_version_) {
        flags_version_ = o.hello->version;
        r_.secure_renegotiation = o.hello->reneg_info;
        r_.extended_master_secret = o.hello->ems;
      }
      r_.compression = r_.compression.value_or(false) || o.hello->compression != 0;
    }
    if (o.cert_request) r_.cert_request_in_hello = true;
    if (r_.chain.empty() && !o.certificates.empty()) {
      r_.chain = o.certificates;
      r_.chain_source = "hello";
    }
    if (o.kx) {
      auto& g = r_.groups[o.hello->version];
      if (o.kx->group && std::find(g.begin(), g.end(), *o.kx->group) == g.end()) g.push_back(*o.kx->group);
      if (o.kx->dh_bits > 0 && (r_.dhe_bits == 0 || o.kx->dh_bits < r_.dhe_bits)) r_.dhe_bits = o.kx->dh_bits;
      if (o.kx->sig_scheme && o.hello->version == TLSv1_2 &&
          std::find(r_.sig_algs.begin(), r_.sig_algs.end(), *o.kx->sig_scheme) == r_.sig_algs.end())
        r_.sig_algs.push_back(*o.kx->sig_scheme);
    }
  }
  if (o.hello && o.offered == TLSv1_3 && o.hello->key_share_group) {
    auto& g = r_.groups[TLSv1_3];
    if (std::find(g.begin(), g.end(), *o.hello->key_share_group) == g.end()) g.push_back(*o.hello->key_share_group);
  }
  auto handler = std::move(cur_->on_hello);
  cur_.reset();
  if (handler) handler(o);
  o.certificates.clear();  // kept once, in r_.chain
  if (r_.hellos.size() < 1000) r_.hellos.push_back(std::move(o));
  return next();
}

Step TlsProbe::from_dimse(Step s) {
  switch (s.kind) {
    case Step::Kind::connect:
      if (r_.handshakes >= opt_.budget) {
        r_.budget_exhausted = true;
        return full_done();
      }
      ++r_.handshakes;
      s.identity = cur_->full.identity;
      s.alpn = cur_->full.alpn_offered;
      return s;
    case Step::Kind::finish: return full_done();
    default: return s;
  }
}

Step TlsProbe::full_done() {
  FullHandshake& f = cur_->full;
  // As for hellos: a TLS server that answered before and now lets a full handshake time out is busy (storescp
  // stalled on the connection before), not refusing. Ask once more before the handshake counts; the chain, ALPN,
  // client authentication and DICOM all come from these handshakes. (Without budget for it, the timeout stays.)
  if (f.timed_out && !f.handshake && r_.tls && cur_->retries < 1 && r_.handshakes < opt_.budget) {
    ++r_.retries;
    Job again = full_job(f.purpose.c_str(), f.identity, f.alpn_offered.c_str(), f.associated);
    again.on_full = std::move(cur_->on_full);
    again.retries = cur_->retries + 1;
    again.full.retries = again.retries;
    dimse_.reset();
    cur_.reset();
    jobs_.push_front(std::move(again));
    return next();
  }
  if (dimse_) {
    const DimseResult& d = dimse_->result();
    if (!d.attempts.empty()) {
      f.dicom = d.attempts.back().outcome;
      f.dicom_detail = d.attempts.back().detail;
      if (f.dicom == "tls-failed") {
        f.handshake = false;
        f.failure = f.dicom_detail;
      }
    } else {
      f.dicom = d.answer;
    }
    if (d.is_dicom() && f.dicom.empty()) f.dicom = "dicom";
  }
  FullHandshake copy = f;
  auto handler = std::move(cur_->on_full);
  dimse_.reset();
  cur_.reset();
  if (copy.session && !copy.session->chain.empty() && r_.chain_source != "openssl") {
    r_.chain = copy.session->chain;
    r_.chain_source = "openssl";
  }
  r_.full.push_back(copy);
  if (handler) handler(copy);
  return next();
}

void TlsProbe::on_version(std::uint16_t v, const HelloOutcome& o) {
  bool ok = false;
  if (o.hello) {
    if (v == TLSv1_3) ok = o.hello->version == TLSv1_3;
    else ok = !o.hello->hrr && o.hello->version == v;
  }
  r_.versions[v] = ok;
  if (!ok) return;
  std::vector<std::uint16_t> offered = candidates(v);
  auto it = std::find(offered.begin(), offered.end(), o.hello->suite);
  if (it == offered.end()) {
    r_.suites_complete[v] = false;
    return;
  }
  r_.suites[v] = {o.hello->suite};
  offered.erase(it);
  enumerate_suites(v, std::move(offered));
}

void TlsProbe::enumerate_suites(std::uint16_t v, std::vector<std::uint16_t> offered) {
  if (offered.empty()) {
    r_.suites_complete[v] = true;
    return;
  }
  HelloSpec spec = spec_for(v, offered);
  push_hello(
      "suites", std::move(spec),
      [this, v, offered](const HelloOutcome& o) mutable {
        const bool same = o.hello && (v == TLSv1_3 ? o.hello->version == TLSv1_3
                                                   : !o.hello->hrr && o.hello->version == v);
        auto it = same ? std::find(offered.begin(), offered.end(), o.hello->suite) : offered.end();
        if (it == offered.end()) {
          // A refusal ends it; no answer even when asked twice (a timeout), or a suite we did not offer, leaves
          // the enumeration unproven.
          r_.suites_complete[v] = !o.hello && o.outcome != "timeout";
          return;
        }
        r_.suites[v].push_back(*it);
        offered.erase(it);
        enumerate_suites(v, std::move(offered));
      },
      true);
}

void TlsProbe::enumerate_groups(std::uint16_t v, std::vector<std::uint16_t> offered) {
  std::vector<std::uint16_t> suites;
  for (std::uint16_t c : r_.suites[v])
    if (const Suite* s = find_suite(c); s && (s->tls13() || std::string(s->kx) == "ECDHE")) suites.push_back(c);
  if (suites.empty() || offered.empty()) return;
  HelloSpec spec = spec_for(v, suites);
  spec.groups = offered;
  push_hello(
      "groups", std::move(spec),
      [this, v, offered](const HelloOutcome& o) mutable {
        std::optional<std::uint16_t> g;
        if (o.hello && v == TLSv1_3) g = o.hello->key_share_group;
        else if (o.kx) g = o.kx->group;
        if (!g) return;
        auto it = std::find(offered.begin(), offered.end(), *g);
        if (it == offered.end()) return;
        auto& seen = r_.groups[v];
        if (std::find(seen.begin(), seen.end(), *g) == seen.end()) seen.push_back(*g);
        offered.erase(it);
        enumerate_groups(v, std::move(offered));
      },
      true);
}

void TlsProbe::enumerate_sigalgs(std::vector<std::uint16_t> suites, std::vector<std::uint16_t> offered) {
  if (offered.empty()) return;
  HelloSpec spec = spec_for(TLSv1_2, suites);
  spec.sig_algs = offered;
  push_hello(
      "sigalgs", std::move(spec),
      [this, suites, offered](const HelloOutcome& o) mutable {
        if (!o.kx || !o.kx->sig_scheme) return;
        auto it = std::find(offered.begin(), offered.end(), *o.kx->sig_scheme);
        if (it == offered.end()) return;
        offered.erase(it);
        enumerate_sigalgs(suites, std::move(offered));
      },
      true);
}

TlsProbe::Job TlsProbe::full_job(const char* purpose, ClientIdentity id, const char* alpn, bool associate) {
  Job j{Job::Kind::full, {}, purpose, {}, {}, {}, {}};
  j.full.purpose = purpose;
  j.full.identity = id;
  j.full.alpn_offered = alpn;
  j.full.associated = associate;
  return j;
}

void TlsProbe::plan_rest() {
  std::vector<std::uint16_t> accepted;
  for (const auto& [v, ok] : r_.versions)
    if (ok) accepted.push_back(v);
  if (accepted.empty()) return;
  std::sort(accepted.rbegin(), accepted.rend());
  const std::uint16_t best12 = best_legacy_version();

  // DHE group size, when no answer showed it yet.
  if (best12 && r_.dhe_bits == 0) {
    std::vector<std::uint16_t> dhe;
    for (std::uint16_t c : r_.suites[best12])
      if (const Suite* s = find_suite(c); s && std::string(s->kx) == "DHE") dhe.push_back(c);
    if (!dhe.empty()) push_hello("dhe", spec_for(best12, dhe), {});
  }
  if (opt_.full) {
    for (std::uint16_t v : accepted) {
      const auto picks = r_.suites[v];
      if (picks.size() < 2) continue;
      std::vector<std::uint16_t> reversed(picks.rbegin(), picks.rend());
      push_hello("order", spec_for(v, reversed), [this, v, picks](const HelloOutcome& o) {
        if (!o.hello) return;
        if (o.hello->suite == picks.front()) r_.server_order[v] = true;
        else if (o.hello->suite == picks.back()) r_.server_order[v] = false;
      });
    }
    jobs_.push_back(Job{Job::Kind::plan, {}, "plan", {}, {}, {}, [this, best12] {
                          if (r_.versions[TLSv1_3]) {
                            r_.groups[TLSv1_3].clear();
                            enumerate_groups(TLSv1_3, default_groups());
                          }
                          if (best12) {
                            r_.groups[best12].clear();
                            enumerate_groups(best12, default_groups());
                          }
                          if (r_.versions[TLSv1_2]) {
                            std::vector<std::uint16_t> signed_kx;
                            for (std::uint16_t c : r_.suites[TLSv1_2])
                              if (const Suite* s = find_suite(c);
                                  s && (std::string(s->kx) == "ECDHE" || std::string(s->kx) == "DHE") &&
                                  std::string(s->auth) != "anon")
                                signed_kx.push_back(c);
                            if (!signed_kx.empty()) {
                              r_.sig_algs.clear();
                              enumerate_sigalgs(signed_kx, default_sig_algs());
                            }
                          }
                        }});
  }
  // TLS_FALLBACK_SCSV: offer the second highest version with the SCSV; a server that knows better must refuse.
  if (opt_.full && accepted.size() >= 2) {
    const std::uint16_t lower = accepted[1];
    HelloSpec s = spec_for(lower, r_.suites[lower].empty() ? candidates(lower) : r_.suites[lower]);
    s.fallback_scsv = true;
    push_hello("fallback", std::move(s), [this](const HelloOutcome& o) {
      if (o.outcome == "alert" && o.alert == 86) r_.fallback_scsv = true;
      else if (o.hello) r_.fallback_scsv = false;
    });
  }
  // Full OpenSSL handshakes: the certificate chain, ALPN, client authentication, and DICOM inside.
  Job h1 = full_job("no-certificate", ClientIdentity::none, "dicom", opt_.associate);
  h1.on_full = [this](const FullHandshake& f) {
    // Refused without a certificate, or asked for one: does an untrusted certificate get in?
    if (opt_.full && (!f.passed() || f.cert_requested))
      jobs_.push_front(full_job("untrusted-certificate", ClientIdentity::untrusted, "dicom", opt_.associate));
  };
  jobs_.push_back(std::move(h1));
  if (opt_.full) jobs_.push_back(full_job("no-dicom-alpn", ClientIdentity::none, "http/1.1", false));
  if (opt_.trusted_cert)
    jobs_.push_back(full_job("configured-certificate", ClientIdentity::configured, "dicom", opt_.associate));
}

}  // namespace dg::scan
