// The DIMSE probe and its verdicts against servers unlike DCMTK and Orthanc (issue 10): single-connection
// servers that refuse the next connection, refusals per command (0124), dropped connections, retrieves that prove
// nothing, queries that match anything, and products named by their implementation identity.
#include <gtest/gtest.h>

#include "findings/sink.h"

#include <algorithm>
#include <set>

#include "dicom/dimse.h"
#include "dicom/pdu.h"
#include "scan/dimse_probe.h"
#include "scan/fingerprint.h"
#include "scan/service.h"
#include "builder.h"

using namespace dg::scan;
using dg::Record;
namespace pdu = dg::dicom::pdu;
namespace dimse = dg::dicom::dimse;
namespace uids = dg::dicom::uids;

namespace {

void be16(Bytes& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void item(Bytes& b, std::uint8_t type, const std::string& s) {
  b.push_back(type);
  b.push_back(0);
  be16(b, static_cast<unsigned>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}
// The presentation context ID the probe gives a SOP class (1, 3, 5, ... in proposed order).
int ctx_of(const char* uid) {
  const auto& v = proposed_classes();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (std::string(v[i]) == uid) return static_cast<int>(1 + 2 * i);
  return -1;
}
Bytes accept(const std::vector<int>& ids, const std::string& impl_uid = "1.2.826.0.1.3680043.9.55600.0",
             const std::string& impl_version = "Odil 0") {
  Bytes body = {0, 1, 0, 0};
  std::string ae(16, ' ');
  body.insert(body.end(), ae.begin(), ae.end());
  body.insert(body.end(), ae.begin(), ae.end());
  body.insert(body.end(), 32, 0);
  item(body, 0x10, uids::kApplicationContext);
  for (int id : ids) {
    Bytes ctx = {static_cast<std::uint8_t>(id), 0, 0, 0};
    item(ctx, 0x40, "1.2.840.10008.1.2.1");
    body.push_back(0x21);
    body.push_back(0);
    be16(body, static_cast<unsigned>(ctx.size()));
    body.insert(body.end(), ctx.begin(), ctx.end());
  }
  Bytes ui = {0x51, 0, 0, 4, 0, 0, 0x40, 0};
  item(ui, 0x52, impl_uid);
  item(ui, 0x55, impl_version);
  body.push_back(0x50);
  body.push_back(0);
  be16(body, static_cast<unsigned>(ui.size()));
  body.insert(body.end(), ui.begin(), ui.end());
  Bytes b = {2, 0, 0, 0};
  be16(b, static_cast<unsigned>(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}
Bytes reject(std::uint8_t source, std::uint8_t reason) { return {3, 0, 0, 0, 0, 4, 0, 1, source, reason}; }
Bytes release_rp() { return {6, 0, 0, 0, 0, 4, 0, 0, 0, 0}; }
Bytes response(int ctx, std::uint16_t field, std::uint16_t status) {
  const Bytes cs = dgtest::command_fields({{0x0100, field}, {0x0120, 1}, {0x0800, 0x0101}, {0x0900, status}});
  return pdu::encode_pdata(static_cast<std::uint8_t>(ctx), true, true, cs);
}
std::set<std::string> checks(const Record& r) {
  std::set<std::string> s;
  for (const auto& f : r.findings) s.insert(f.check);
  return s;
}
bool has_line(const Record& r, const std::string& part) {
  const auto lines = dg::text_notes(r);  // what the text output shows under the record
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(part) != std::string::npos; });
}
const std::vector<int> kEchoFindMoveGetStore = {ctx_of(uids::kVerification), ctx_of(uids::kStudyRootFind),
                                                ctx_of(uids::kStudyRootMove), ctx_of(uids::kStudyRootGet),
                                                ctx_of(uids::kSecondaryCapture)};
}  // namespace

TEST(ScanSingleConnection, ARefusedConnectionAfterADicomAnswerIsRetriedWithBackoff) {
  DimseOptions o;
  o.seed = 3;
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, o);
  p.begin();
  p.on_connected({}, {});
  Step s = p.on_data(reject(1, 7));  // the random called AE is refused: try the next title
  ASSERT_EQ(s.kind, Step::Kind::connect);
  EXPECT_EQ(s.delay.count(), 0);
  // The server closed its listener for a moment: refused twice, then the connection works.
  s = p.on_failure(Failure::refused, "Connection refused");
  ASSERT_EQ(s.kind, Step::Kind::connect);
  EXPECT_EQ(s.delay.count(), 50);
  s = p.on_failure(Failure::refused, "Connection refused");
  ASSERT_EQ(s.kind, Step::Kind::connect);
  EXPECT_EQ(s.delay.count(), 100);
  s = p.on_connected({}, {});
  ASSERT_EQ(s.kind, Step::Kind::send);
  const std::string rq(s.out.begin(), s.out.end());
  EXPECT_NE(rq.find(default_called_aes()[0]), std::string::npos);  // the same attempt, not a skipped one
  s = p.on_data(accept({ctx_of(uids::kVerification)}));
  s = p.on_data(response(ctx_of(uids::kVerification), 0x8030, 0));
  ASSERT_EQ(s.out[0], 5);
  p.on_data(release_rp());
  const DimseResult& r = p.result();
  EXPECT_EQ(r.transport_retries, 2);
  EXPECT_TRUE(r.incomplete.empty());
  ASSERT_EQ(r.attempts.size(), 4u);  // rejected, refused, refused, accepted: every attempt is recorded
  EXPECT_EQ(r.attempts[1].outcome, "refused");
  EXPECT_TRUE(r.attempts[1].retried);
  EXPECT_EQ(r.attempts[3].outcome, "accepted");
  const Record rec = dimse_record(r);
  EXPECT_TRUE(has_line(rec, "2 connections were refused or reset"));
  EXPECT_EQ(rec.fields["associations"][1]["retried"], true);
}

TEST(ScanSingleConnection, WhenRetriesRunOutTheRecordSaysTheMatrixIsIncomplete) {
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, {});
  p.begin();
  p.on_connected({}, {});
  Step s = p.on_data(reject(1, 7));
  int retries = 0;
  while (s.kind == Step::Kind::connect) {
    s = p.on_failure(Failure::refused, "Connection refused");
    retries += s.kind == Step::Kind::connect;
  }
  EXPECT_EQ(retries, 6);
  const Record rec = dimse_record(p.result());
  EXPECT_FALSE(p.result().incomplete.empty());
  EXPECT_EQ(rec.fields["calling_ae_check"], "not-measured");
  EXPECT_TRUE(has_line(rec, "incomplete: the port answered DICOM, then refused 7 connections"));
}

TEST(ScanRefusals, EveryCommandRefusedPerCommandIsNotAnOpenServer) {
  DimseOptions o;
  o.active_store = true;
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, o);
  p.begin();
  p.on_connected({}, {});
  Step s = p.on_data(accept(kEchoFindMoveGetStore));
  for (auto [uid, field] : {std::pair{uids::kVerification, 0x8030}, {uids::kStudyRootFind, 0x8020},
                            {uids::kStudyRootMove, 0x8021}, {uids::kStudyRootGet, 0x8010},
                            {uids::kSecondaryCapture, 0x8001}}) {
    ASSERT_EQ(s.kind, Step::Kind::send) << uid;
    s = p.on_data(response(ctx_of(uid), static_cast<std::uint16_t>(field), 0x0124));
  }
  ASSERT_EQ(s.out[0], 5);
  p.on_data(release_rp());
  const Record rec = dimse_record(p.result());
  EXPECT_EQ(checks(rec), (std::set<std::string>{"dimse.plaintext"}));
  EXPECT_EQ(rec.fields["calling_ae_check"], "enforced");
  EXPECT_EQ(rec.fields["ae_check_level"], "command");
  EXPECT_EQ(rec.fields["storage"], "refused");
  EXPECT_EQ(rec.fields["retrieve"], "refused");
  EXPECT_EQ(rec.fields["exposure"], "identified");  // odil, named; the association gives a stranger nothing
  EXPECT_EQ(rec.fields["commands_refused"].size(), 5u);
  EXPECT_TRUE(has_line(rec, "refused per command (0124, not authorized): echo, find, move, get, store"));
}

TEST(ScanRefusals, StorageInferredFromContextsIsNotAProofWhenOtherCommandsAreRefused) {
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, {});
  p.begin();
  p.on_connected({}, {});
  Step s = p.on_data(accept({ctx_of(uids::kVerification), ctx_of(uids::kStudyRootFind), ctx_of("1.2.840.10008.5.1.4.1.1.2")}));
  s = p.on_data(response(ctx_of(uids::kVerification), 0x8030, 0));              // echo works
  s = p.on_data(response(ctx_of(uids::kStudyRootFind), 0x8020, 0x0124));         // find refused
  ASSERT_EQ(s.out[0], 5);
  const Record rec = dimse_record(p.result());
  EXPECT_EQ(rec.fields["storage"], "unverified");
  EXPECT_EQ(checks(rec).count("dimse.store.open"), 0u);
  EXPECT_EQ(checks(rec).count("dimse.store.unverified"), 1u);
  EXPECT_NE(rec.fields["exposure"], "write-open");
  // Without any refusal, accepted storage contexts are still reported, and said to be an inference.
  DimseProbe q({*parse_addr("127.0.0.1"), 104, {}}, {});
  q.begin();
  q.on_connected({}, {});
  s = q.on_data(accept({ctx_of("1.2.840.10008.5.1.4.1.1.2")}));
  ASSERT_EQ(s.out[0], 5);
  const Record r2 = dimse_record(q.result());
  EXPECT_EQ(r2.fields["storage"], "inferred");
  EXPECT_EQ(r2.fields["exposure"], "write-open");
  const auto f = std::find_if(r2.findings.begin(), r2.findings.end(), [](const dg::Finding& x) { return x.check == "dimse.store.open"; });
  ASSERT_NE(f, r2.findings.end());
  EXPECT_EQ(f->evidence["basis"], "inferred");
}

TEST(ScanRefusals, AConnectionDroppedOnACommandDoesNotStopTheOthers) {
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, {});
  p.begin();
  p.on_connected({}, {});
  const std::vector<int> ctx = {ctx_of(uids::kStudyRootFind), ctx_of(uids::kStudyRootMove), ctx_of(uids::kStudyRootGet)};
  Step s = p.on_data(accept(ctx));
  ASSERT_EQ(s.kind, Step::Kind::send);  // C-FIND
  s = p.on_failure(Failure::closed, "end of file");
  ASSERT_EQ(s.kind, Step::Kind::connect);  // a new association for the rest
  s = p.on_connected({}, {});
  ASSERT_EQ(s.kind, Step::Kind::send);
  s = p.on_data(accept(ctx));
  ASSERT_EQ(s.kind, Step::Kind::send);  // C-MOVE
  s = p.on_data(response(ctx_of(uids::kStudyRootMove), 0x8021, 0xC000));
  ASSERT_EQ(s.kind, Step::Kind::send);  // C-GET
  s = p.on_data(response(ctx_of(uids::kStudyRootGet), 0x8010, 0xC000));
  ASSERT_EQ(s.out[0], 5);
  const DimseResult& r = p.result();
  EXPECT_EQ(r.find.category, CommandCategory::dropped);
  EXPECT_EQ(r.move.status, 0xC000);
  EXPECT_EQ(r.get.status, 0xC000);
  const Record rec = dimse_record(r);
  EXPECT_EQ(rec.fields["find"]["result"], "dropped");
  // A failure for a study that does not exist proves nothing about real studies: said, not silent.
  EXPECT_EQ(rec.fields["retrieve"], "not-proven");
  EXPECT_TRUE(has_line(rec, "retrieve not proven: a never-existing study was answered with C-MOVE C000, C-GET C000"));
  EXPECT_EQ(checks(rec).count("dimse.retrieve.open"), 0u);
}

TEST(ScanRefusals, MatchesForAPatientIdThatCannotExistAreNoted) {
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, {});
  p.begin();
  p.on_connected({}, {});
  const int f = ctx_of(uids::kStudyRootFind);
  Step s = p.on_data(accept({f}));
  for (int i = 0; i < 4; ++i) s = p.on_data(response(f, 0x8020, 0xFF00));
  s = p.on_data(response(f, 0x8020, 0));
  const Record rec = dimse_record(p.result());
  EXPECT_EQ(rec.fields["query_matching"], "ignores-keys");
  EXPECT_TRUE(has_line(rec, "query answered 4 matches for a Patient ID that cannot exist"));
}

TEST(ScanRefusals, AProvenCalledTitleIsRecordedWhenTheCallingTitleIsThenRefused) {
  DimseOptions o;
  o.called_aes = {"DCMJS"};
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, o);
  p.begin();
  p.on_connected({}, {});
  Step s = p.on_data(reject(1, 7));
  p.on_connected({}, {});
  s = p.on_data(reject(1, 3));  // DCMJS is right; our calling AE title is not on its list
  EXPECT_EQ(s.kind, Step::Kind::finish);
  const Record rec = dimse_record(p.result());
  EXPECT_EQ(rec.fields["ae_titles"], nlohmann::json::array({"DCMJS"}));
  EXPECT_EQ(rec.fields["called_ae_check"], "enforced");
  EXPECT_EQ(rec.fields["calling_ae_check"], "enforced");
  EXPECT_EQ(rec.fields["associations"][1]["called_ae_source"], "given");
}

TEST(Fingerprint, ProductsOtherThanDcmtkAreNamed) {
  EXPECT_EQ(fingerprint("1.2.840.113654.2.3.1995.3.0.6", "MIRCTN11MAR2003").product.rfind("CTN", 0), 0u);
  EXPECT_EQ(fingerprint("1.3.6.1.4.1.5962.99.2", "PIXELMEDJAVA001").product, "PixelMed Java DICOM toolkit");
  EXPECT_EQ(fingerprint("1.2.826.0.1.3680043.9.55600.0", "Odil 0").product, "Odil");
  EXPECT_EQ(fingerprint("1.2.826.0.1.3680043.10.854", "DCMJS-DIMSE-V0.2").product, "dcmjs-dimse");
  EXPECT_EQ(fingerprint("1.2.276.0.7230010.3.0.3.6.7", "OFFIS_DCMTK_367").version, "3.6.7");
  // A prefix matches at a component boundary only.
  EXPECT_FALSE(fingerprint("1.2.826.0.1.3680043.10.8541", "X").known());
  // A toolkit's version name names it under another UID; the product says so.
  const Product p = fingerprint("1.2.3.4.5", "OFFIS_DCMTK_368");
  EXPECT_TRUE(p.known());
  EXPECT_EQ(p.basis, "version-name");
  EXPECT_EQ(p.version, "3.6.8");
  // Our own identity sent back names nothing.
  const Product e = fingerprint(kImplementationUid, kImplementationVersion);
  EXPECT_FALSE(e.known());
  EXPECT_TRUE(e.echoes_requester);
  EXPECT_EQ(fingerprint(kImplementationUid, "DICOMGUARD_LAB_010").product, "dicomguard lab");
}

TEST(ScanMoveProbe, TheStoredTestObjectIsMovedToTheAddressWeName) {
  DimseOptions o;
  o.active_store = true;
  o.move_probe_ae = "127.0.0.1:40123";
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, o);
  p.begin();
  p.on_connected({}, {});
  const int store = ctx_of(uids::kSecondaryCapture), move = ctx_of(uids::kStudyRootMove);
  Step s = p.on_data(accept({move, store}));
  ASSERT_EQ(s.kind, Step::Kind::send);  // C-MOVE of a never-existing study
  s = p.on_data(response(move, 0x8021, 0xA801));
  ASSERT_EQ(s.kind, Step::Kind::send);  // C-STORE of the test object
  s = p.on_data(response(store, 0x8001, 0x0000));
  ASSERT_EQ(s.kind, Step::Kind::send);  // C-MOVE of its study to our address
  const std::string rq(s.out.begin(), s.out.end());
  EXPECT_NE(rq.find("127.0.0.1:40123"), std::string::npos);
  EXPECT_NE(rq.find(p.result().stored_study_uid), std::string::npos);
  Bytes rsp = response(move, 0x8021, 0x0000);
  s = p.on_data(rsp);
  ASSERT_EQ(s.out[0], 5);
  EXPECT_TRUE(p.result().move_probe.sent);
  const Record rec = dimse_record(p.result());
  EXPECT_EQ(rec.fields["move_probe"]["result"], "status 0000");  // success, but no sub-operation counted
}
