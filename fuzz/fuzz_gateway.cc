// libFuzzer target for the gateway's relay and filter chain (gateway/relay.h, gateway/policy.h): hostile bytes
// from both sides. The first byte picks a policy; then records of [side+length byte][bytes] (length byte 0x7F: a 2-byte length follows) are fed to the client
// or the upstream side, and the upstream is "connected" whenever the relay asks. Whatever arrives, the relay
// answers with whole PDUs no larger than its limit, never reads a side it said it would not, and says nothing
// more once it has closed.
#include <cstddef>
#include <cstdint>

#include "gateway/relay.h"

namespace {

struct Events : dg::gateway::RelayEvents {
  void rejected(const dg::dicom::pdu::Associate&, const dg::gateway::Decision&) override {}
  void upstream_answered(const dg::dicom::pdu::Associate&, const dg::dicom::pdu::Associate*,
                         const dg::dicom::pdu::AssociateRj*) override {}
  void command(const dg::gateway::CommandInfo&, const dg::gateway::Decision&) override {}
  void instance(const dg::gateway::Instance&) override {}
  void query(const dg::gateway::CommandInfo&, std::span<const std::uint8_t> id, const std::string&, bool) override {
    if (id.size() > 64 * 1024) __builtin_trap();
  }
  void retrieve_done(const dg::gateway::CommandInfo&, std::uint16_t, int, int, int) override {}
  void violation(dg::gateway::Side, const std::string&) override {}
};

void check(const std::vector<dg::gateway::Bytes>& pdus, std::uint32_t max_pdu) {
  for (const auto& b : pdus) {
    if (b.size() < 6) __builtin_trap();
    const std::size_t len = (std::size_t{b[2]} << 24) | (std::size_t{b[3]} << 16) | (std::size_t{b[4]} << 8) | b[5];
    if (len != b.size() - 6) __builtin_trap();
    if (b[0] < 1 || b[0] > 7) __builtin_trap();
    if (b[0] == 4 && len > max_pdu) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dg::gateway;
  if (size < 1) return 0;
  Policy p;
  if (data[0] & 1) p.called_ae = "PACS";
  if (data[0] & 2) p.calling.push_back({"MODALITY", "", {}, {}});
  if (data[0] & 4) p.deny = {Service::store};
  if (data[0] & 8) p.allow = {Service::echo, Service::find};
  if (data[0] & 16) p.move_destinations["WS"] = {"WS", "127.0.0.1", 104, false};
  const Chain chain(p);
  Events ev;
  RelayLimits limits;
  limits.max_pdu = (data[0] & 32) ? 4096 : 65536;
  Relay relay(chain, Peer{"127.0.0.1", false, {}}, ev, limits);
  bool closed = false;
  for (std::size_t i = 1; i + 1 < size;) {
    const Side side = (data[i] & 0x80) ? Side::upstream : Side::client;
    std::size_t n = static_cast<std::size_t>(data[i] & 0x7F) * 23 + 1;
    ++i;
    if ((data[i - 1] & 0x7F) == 0x7F && i + 2 <= size) {  // an exact length follows (the seeds use it)
      n = (std::size_t{data[i]} << 8) | data[i + 1];
      i += 2;
    }
    if (n > size - i) n = size - i;
    Relay::Output out = relay.feed(side, {data + i, n});
    i += n;
    if (closed && (!out.to_client.empty() || !out.to_upstream.empty())) __builtin_trap();
    check(out.to_client, limits.max_pdu);
    check(out.to_upstream, limits.max_pdu);
    if (out.connect) {
      Relay::Output up = relay.upstream_connected();
      if (up.to_upstream.size() != 1) __builtin_trap();
      check(up.to_upstream, limits.max_pdu);
    }
    if (out.close) closed = true;
    for (auto& b : out.to_client) relay.recycle(std::move(b));
  }
  Relay::Output end = relay.closed(Side::client);
  if (closed && (!end.to_client.empty() || !end.to_upstream.empty())) __builtin_trap();
  return 0;
}
