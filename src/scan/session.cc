#include "scan/session.h"

#include "scan/ntp_client.h"
#include "scan/nts_ke_probe.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

namespace dg::scan {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

// A plain DIMSE service that accepts a called AE title: a candidate plaintext twin of a DICOM-TLS service.
struct PlainService {
  std::string ae, target, identity;
};

// A record with what its probe found, for the passes after the first.
struct Found {
  Endpoint ep;
  Record rec;
  ProbeFacts facts;
};

// --move-probe: what our listener saw settles it: the server opened an association to the address the
// destination AE title named (and sent our object there, or tried to).
void settle_move_probe(Found& f, const MoveListener& l) {
  const bool got = l.received(f.facts.moved_instance);
  const bool connected = l.associated_from(f.ep.addr.str());
  f.rec.fields["move_probe"]["received_by_listener"] = got;
  f.rec.fields["move_probe"]["connected_to_listener"] = connected;
  bool reported = false;
  for (Finding& fd : f.rec.findings)
    if (fd.check == "dimse.move.any-destination") {
      fd.evidence["received_by_listener"] = got;
      fd.evidence["connected_to_listener"] = connected;
      reported = true;
    }
  if (connected && !reported) {
    f.rec.findings.push_back(make_finding(
        "dimse.move.any-destination", f.ep.str(),
        {{"destination_ae", l.destination_ae()}, {"received_by_listener", got}, {"connected_to_listener", true},
         {"note", "the server opened a sub-association to the address named in the destination AE title"}}));
    f.rec.fields["move_probe"]["result"] = "connected";
  }
}

// A plaintext twin is named on evidence only: the same AE title learned on both, or the same implementation
// identity accepting the same AE; another plain service on the address that would take the same AE is only a
// possible twin (a busy host runs several DICOM services).
void name_plaintext_twin(Found& tls, const std::vector<PlainService>& plain) {
  const std::string& ae = tls.facts.accepted_ae;
  std::vector<std::string> found, possible;
  std::string evidence;
  if (!ae.empty())
    for (const PlainService& p : plain) {
      const bool same_title = ae != "*" && p.ae == ae;
      const bool same_identity = p.identity == tls.facts.identity && (p.ae == ae || p.ae == "*");
      if (same_title || same_identity) {
        found.push_back(p.target);
        if (evidence.empty())
          evidence = same_title ? "the same AE title is accepted on both"
                                : "the same implementation identity accepts the same AE title on both";
      } else if (p.ae == "*" || p.ae == ae) {
        possible.push_back(p.target);
      }
    }
  std::sort(found.begin(), found.end());
  std::sort(possible.begin(), possible.end());
  json& j = tls.rec.fields;
  j["plaintext_twin"] = found.empty() ? json(nullptr) : json(found.front());
  j["plaintext_twin_check"] = ae.empty()        ? "not-measured"
                              : !found.empty()    ? "found"
                              : !possible.empty() ? "possible"
                                                  : "none";
  if (!evidence.empty()) j["plaintext_twin_evidence"] = evidence;
  if (!possible.empty()) j["plaintext_twin_possible"] = possible;
  if (!found.empty()) tls.rec.note("twin.found", {{"twin", found.front()}, {"evidence", evidence}});
  else if (!possible.empty()) tls.rec.note("twin.possible", {{"twin", possible.front()}});
}

}  // namespace

struct ScanSession::Impl {
  ScanPlan plan;
  Sink& sink;
  const ProbeKind* kind = nullptr;
  const ProbeKind* grader = nullptr;
  Engine engine;
  ScanTotals t;
  Clock::time_point started = Clock::now();
  std::uint64_t total = UINT64_MAX;
  std::uint64_t seeds = 0, grade_seeds = 0;

  ServiceMap now;                                    // for the baseline
  std::set<std::string> probed;                      // endpoints probed in pass 1
  std::vector<Found> held;                           // pass 2 candidates
  std::map<std::pair<Addr, int>, std::string> learned;  // (address, port) -> AE title a web API named
  std::vector<Found> tls_services;                   // DICOM-TLS services, written after pass 3
  std::map<std::string, std::vector<PlainService>> plain;  // address -> plain DIMSE services accepting an AE
  std::map<std::string, bool> to_grade;              // TLS services found: target -> DICOM behind it
  std::set<Addr> hosts;                              // addresses probed in pass 1 (for pass 6)
  std::map<Addr, std::vector<ClockObservation>> clocks;  // address -> its clock as passes 1, 4 and 6 saw it

  Impl(ScanPlan p, Sink& s) : plan(std::move(p)), sink(s), engine(plan.engine) {
    kind = find_probe_kind(plan.probe);
    if (!kind) throw std::runtime_error("no probe named '" + plan.probe + "'");
    if (!plan.grade_probe.empty() && !(grader = find_probe_kind(plan.grade_probe)))
      throw std::runtime_error("no probe named '" + plan.grade_probe + "'");
    t.records = Tally(plan.command, plan.counted);
  }

  std::uint64_t next_seed(std::uint64_t offset, std::uint64_t& counter) const {
    return plan.options.seed ? plan.options.seed + offset + ++counter : 0;
  }

  void write(Record& rec) {
    if (plan.before_output) plan.before_output();
    sink.prepare(rec);
    sink.record(rec);  // a failure is kept by the sink and reported by its end()
  }

  // A record of pass 1-3 goes out, and what it found is remembered for the passes after.
  void output(Found& f) {
    if (f.facts.protocol == Protocol::dimse_tls || f.facts.protocol == Protocol::https)
      to_grade.emplace(f.ep.str(), f.facts.protocol == Protocol::dimse_tls);
    if (plan.baseline) add_state(now, f.rec);
    t.records.add(f.rec);
    write(f.rec);
  }

  void accept(Found f) {
    if (f.facts.dicom) ++t.dicom_services;
    if (plan.correlate_twins && f.facts.protocol == Protocol::dimse_tls) return tls_services.push_back(std::move(f));
    if (f.facts.protocol == Protocol::dimse && !f.facts.accepted_ae.empty())
      plain[f.ep.addr.str()].push_back({f.facts.accepted_ae, f.ep.str(), f.facts.identity});
    output(f);
  }

  void finished(const Endpoint& ep, Probe& p, bool again) {
    Found f{ep, {}, p.facts()};
    if (!again) {
      ++t.endpoints;
      ++t.answers[f.facts.answer];
      if (plan.baseline) probed.insert(ep.str());
      if (plan.progress)
        plan.progress({t.endpoints, total, t.records.count_all(),
                       std::chrono::duration<double>(Clock::now() - started).count()});
    }
    t.handshakes += f.facts.handshakes;
    if (!again && plan.ntp) hosts.insert(ep.addr);
    for (ClockObservation& o : f.facts.clock) clocks[ep.addr].push_back(std::move(o));
    if (f.facts.learned_port) learned[{ep.addr, f.facts.learned_port}] = f.facts.learned_ae;
    f.rec = p.record(plan.record);
    if (f.rec.type.empty()) return;
    if (plan.move_listener && !f.facts.moved_instance.empty()) settle_move_probe(f, *plan.move_listener);
    if (!again && plan.learn_ae_titles && f.facts.every_title_refused) return held.push_back(std::move(f));
    accept(std::move(f));
  }

  EngineStats probe_all(const TargetSet& targets, const std::function<ProbeOptions(const Endpoint&)>& options,
                        const ProbeKind& k, const Engine::Done& done) {
    TargetSet::Cursor cursor(targets);
    return engine.run(
        cursor, [&](const Endpoint& ep) { return k.make(ep, options(ep)); }, done);
  }

  // Pass 1.
  void every_endpoint(const TargetSet& targets) {
    total = targets.size_hint();
    t.engine = probe_all(
        targets,
        [&](const Endpoint&) {
          ProbeOptions o = plan.options;
          o.seed = next_seed(0, seeds);
          return o;
        },
        *kind, [&](const Endpoint& ep, std::unique_ptr<Probe> p) { finished(ep, *p, false); });
  }

  // Pass 2: the held services whose AE title a web API of the same address disclosed, probed again with it;
  // the others are written as they were.
  void again_with_learned_titles() {
    TargetSet again;
    std::map<std::string, std::string> title;
    for (Found& f : held) {
      auto it = learned.find({f.ep.addr, f.ep.port});
      if (it == learned.end()) {
        accept(std::move(f));
        continue;
      }
      std::string e;
      again.add(f.ep.str(), e);
      title[f.ep.str()] = it->second;
    }
    held.clear();
    if (again.blocks().empty()) return;
    t.engine = probe_all(
        again,
        [&](const Endpoint& ep) {
          ProbeOptions o = plan.options;
          o.dimse.called_aes.insert(o.dimse.called_aes.begin(), title[ep.str()]);
          o.seed = next_seed(0, seeds);
          return o;
        },
        *kind, [&](const Endpoint& ep, std::unique_ptr<Probe> p) { finished(ep, *p, true); });
  }

  // Pass 3.
  void plaintext_twins() {
    for (Found& f : tls_services) {
      name_plaintext_twin(f, plain[f.ep.addr.str()]);
      output(f);
    }
    tls_services.clear();
  }

  // Pass 4.
  void grade_tls_services() {
    if (!grader || to_grade.empty()) return;
    TargetSet targets;
    for (const auto& [target, dicom] : to_grade) {
      std::string e;
      targets.add(target, e);
    }
    t.engine = probe_all(
        targets,
        [&](const Endpoint& ep) {
          ProbeOptions o = plan.options;
          o.tls.associate = to_grade[ep.str()];
          o.seed = next_seed(1000000, grade_seeds);
          return o;
        },
        *grader,
        [&](const Endpoint& ep, std::unique_ptr<Probe> p) {
          const ProbeFacts facts = p->facts();
          t.grade_handshakes += facts.handshakes;
          for (const ClockObservation& o : facts.clock) clocks[ep.addr].push_back(o);
          Record rec = p->record(plan.record);
          if (rec.type.empty()) return;
          ++t.graded_endpoints;
          t.graded.add(rec);
          write(rec);
        });
  }

  // Pass 5.
  void compare_with_baseline() {
    if (!plan.baseline) return;
    std::map<std::string, int> counts = {{"new", 0}, {"gone", 0}, {"changed", 0}};
    for (Record& c : compare(*plan.baseline, now, [&](const std::string& target) { return probed.count(target) > 0; })) {
      ++counts[c.status];
      write(c);
    }
    t.baseline = counts;
  }

  // Pass 6: NTP over UDP to every address probed, then NTS-KE over TLS to those that serve time.
  void ntp_pass() {
    if (!plan.ntp || hosts.empty()) return;
    const std::vector<Addr> list(hosts.begin(), hosts.end());
    ntp::QueryOptions qo;
    qo.port = plan.ntp_port;
    qo.timeout = plan.options.dimse.timeout;
    std::vector<ntp::Result> results = ntp::query(list, qo);
    t.ntp_queried = results.size();
    TargetSet nts;
    std::map<std::string, std::size_t> index;  // NTS-KE target -> result
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (!results[i].reply) continue;
      Endpoint ep{list[i], plan.nts_port, {}};
      std::string e;
      if (nts.add(ep.str(), e)) index[ep.str()] = i;
    }
    for (ntp::Result& r : results) r.nts_port = plan.nts_port;
    if (!index.empty()) {
      TargetSet::Cursor cursor(nts);
      engine.run(
          cursor, [&](const Endpoint&) -> std::unique_ptr<Probe> { return std::make_unique<NtsKeProbe>(plan.options.dimse.timeout); },
          [&](const Endpoint& ep, std::unique_ptr<Probe> p) {
            auto it = index.find(ep.str());
            if (it == index.end()) return;
            const auto& k = static_cast<const NtsKeProbe&>(*p);
            results[it->second].nts_ke = k.result();
            results[it->second].nts_tls_version = k.tls_version();
          });
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
      ntp::Result& r = results[i];
      if (r.nts_ke.empty()) r.nts_ke = "not-tried";
      if (r.observation) clocks[list[i]].push_back(*r.observation);
      Record rec = ntp::ntp_record(r);
      if (rec.type.empty()) continue;
      ++t.ntp_answered;
      t.clocks.add(rec);
      write(rec);
    }
  }

  // Pass 7.
  void clock_records() {
    if (!plan.clocks) return;
    for (const auto& [addr, obs] : clocks) {
      Record rec = clock_record(addr.str(), obs, plan.max_skew);
      if (rec.type.empty()) continue;
      ++t.clock_hosts;
      if (!rec.findings.empty()) ++t.clock_skewed;
      t.clocks.add(rec);
      write(rec);
    }
  }
};

ScanSession::ScanSession(ScanPlan plan, Sink& sink) : impl_(std::make_unique<Impl>(std::move(plan), sink)) {}
ScanSession::~ScanSession() = default;

ScanTotals ScanSession::run(const TargetSet& targets) {
  Impl& s = *impl_;
  s.started = Clock::now();
  s.every_endpoint(targets);
  s.again_with_learned_titles();
  s.plaintext_twins();
  s.grade_tls_services();
  s.compare_with_baseline();
  s.ntp_pass();
  s.clock_records();
  s.t.seconds = std::chrono::duration<double>(Clock::now() - s.started).count();
  return s.t;
}

json ScanSession::summary(const ScanTotals& t, int exit_code) const {
  const ScanPlan& p = impl_->plan;
  json sum = t.records.summary();
  // The findings of the clock and ntp records count too (those of the tls records the scan graded do not).
  if (p.command == "scan" && t.clocks.count_all()) {
    const json clock = t.clocks.summary();
    for (auto it = clock["findings"].begin(); it != clock["findings"].end(); ++it)
      sum["findings"][it.key()] = sum["findings"].value(it.key(), std::uint64_t{0}) + it->get<std::uint64_t>();
  }
  sum["endpoints"] = t.endpoints;
  sum["answers"] = t.answers;
  sum["connections"] = t.engine.connections;
  sum["mode"] = p.mode;
  sum["exit_code"] = exit_code;
  if (p.command == "scan") {
    sum["probe"] = p.probe;
    sum["services"] = t.records.count_all() && p.counted == "services" ? t.records.count_all() : 0;
  }
  if (p.command == "tls") {
    sum["handshakes"] = t.handshakes;
    return sum;
  }
  sum["tls_handshakes"] = t.engine.tls_handshakes;
  sum["peak_inflight"] = t.engine.peak_inflight;
  sum["seconds"] = t.seconds;
  sum["tls_graded"] = t.graded_endpoints;
  sum["tls_grade"] = {{"mode", p.options.tls.full ? "full" : "quick"},
                      {"pass", t.graded.count("pass")},
                      {"fail", t.graded.count("fail")}};
  sum["tls_grade_handshakes"] = t.grade_handshakes;
  if (t.baseline) sum["baseline"] = *t.baseline;
  if (t.clock_hosts) sum["clock"] = {{"hosts", t.clock_hosts}, {"skewed", t.clock_skewed}, {"max_skew_seconds", p.max_skew}};
  if (p.ntp) sum["ntp"] = {{"queried", t.ntp_queried}, {"answered", t.ntp_answered}};
  sum["dicom_services"] = t.dicom_services;
  return sum;
}

}  // namespace dg::scan
