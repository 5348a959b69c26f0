#include "lab/samples.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dicom/tag.h"
#include "dicom/uids.h"
#include "dicom/writer.h"

namespace dg::lab {

namespace {

using Bytes = std::string;  // raw bytes
using dicom::ElementWriter;
using dicom::tag;
namespace uids = dicom::uids;

void put16(Bytes& b, unsigned v) {
  b += static_cast<char>(v & 0xFF);
  b += static_cast<char>((v >> 8) & 0xFF);
}
void put32(Bytes& b, std::uint32_t v) {
  put16(b, v & 0xFFFF);
  put16(b, v >> 16);
}

// What `write` writes in explicit VR little endian.
template <class F>
Bytes encoded(F&& write) {
  const std::vector<std::uint8_t> b = dicom::encode(dicom::kExplicitLittle, write);
  return Bytes(b.begin(), b.end());
}
// One element (values padded to even length as DICOM requires).
Bytes el(unsigned group, unsigned elem, const char* vr, std::string_view value) {
  return encoded([&](ElementWriter& w) {
    w.element(tag(static_cast<std::uint16_t>(group), static_cast<std::uint16_t>(elem)), dicom::vr(vr), value);
  });
}

Bytes meta(const std::string& sop_class, const std::string& uid) {
  return encoded([&](ElementWriter& w) {
    w.begin_group(0x0002);
    w.element(tag(2, 1), dicom::kOB, std::string_view("\0\1", 2));
    w.element(tag(2, 2), dicom::kUI, sop_class);
    w.element(tag(2, 3), dicom::kUI, uid);
    w.element(tag(2, 0x10), dicom::kUI, uids::kExplicitLE);
    w.element(tag(2, 0x12), dicom::kUI, "1.2.826.0.1.3680043.10.1411");
    w.element(tag(2, 0x13), dicom::vr("SH"), "DICOMGUARD_DEMO");
    w.end_group();
  });
}

Bytes image(const std::string& uid, const std::string& name, const Bytes& extra = {}) {
  return encoded([&](ElementWriter& w) {
    w.element(dicom::kSOPClassUID, dicom::kUI, uids::kSecondaryCapture);
    w.element(dicom::kSOPInstanceUID, dicom::kUI, uid);
    w.element(tag(8, 0x60), dicom::kCS, "OT");
    w.element(tag(0x10, 0x10), dicom::vr("PN"), name);
    w.element(tag(0x10, 0x20), dicom::kLO, "DEMO-0001");
    w.us(tag(0x28, 2), 1);
    w.element(tag(0x28, 4), dicom::kCS, "MONOCHROME2");
    w.us(tag(0x28, 0x10), 8);
    w.us(tag(0x28, 0x11), 8);
    w.us(tag(0x28, 0x100), 8);
    w.us(tag(0x28, 0x101), 8);
    w.us(tag(0x28, 0x102), 7);
    w.us(tag(0x28, 0x103), 0);
    w.raw({reinterpret_cast<const std::uint8_t*>(extra.data()), extra.size()});
    w.element(dicom::kPixelData, dicom::kOB, Bytes(64, ' '));
  });
}

Bytes part10(const Bytes& ds, const std::string& uid, const std::string& sop_class = uids::kSecondaryCapture, Bytes preamble = {}) {
  preamble.resize(128, '\0');
  return preamble + "DICM" + meta(sop_class, uid) + ds;
}

Bytes mz(std::uint32_t lfanew) {
  Bytes b(64, '\0');
  b[0] = 'M';
  b[1] = 'Z';
  std::memcpy(&b[0x3C], &lfanew, 4);
  return b;
}

Bytes pe_body() {
  Bytes b("PE\0\0", 4);
  put16(b, 0x8664);
  put16(b, 1);
  return b + Bytes(16, '\0') + Bytes(232, '\x90');
}

Bytes document(const std::string& uid, const std::string& sop_class, const Bytes& data, const std::string& mime) {
  return el(8, 0x16, "UI", sop_class) + el(8, 0x18, "UI", uid) + el(0x10, 0x10, "PN", "DEMO^DOCUMENT") +
         el(0x42, 0x11, "OB", data) + el(0x42, 0x12, "LO", mime);
}

}  // namespace

int write_samples(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
  const std::string root = "1.2.826.0.1.3680043.10.1411.1.";
  std::map<std::string, Bytes> files;
  files["clean.dcm"] = part10(image(root + "1", "DEMO^CLEAN"), root + "1");
  files["tiff-dual.dcm"] =
      part10(image(root + "2", "DEMO^TIFF"), root + "2", uids::kSecondaryCapture, Bytes("II*\0\x08\0\0\0", 8));
  // CVE-2019-11687: MZ in the preamble, e_lfanew pointing into an illegal (0009,0000) OB element before group 0008.
  const std::size_t head = 128 + 4 + meta(uids::kSecondaryCapture, root + "3").size();
  files["polyglot-pe.dcm"] = part10(el(9, 0, "OB", pe_body()) + image(root + "3", "DEMO^PE"), root + "3",
                                    uids::kSecondaryCapture, mz(static_cast<std::uint32_t>(head + 12)));
  {
    Bytes elf(120, '\0');
    std::memcpy(&elf[0], "\x7f" "ELF\x02\x01\x01", 7);
    auto at16 = [&](std::size_t o, unsigned v) { elf[o] = static_cast<char>(v & 0xFF); elf[o + 1] = static_cast<char>(v >> 8); };
    auto at32 = [&](std::size_t o, std::uint32_t v) { at16(o, v & 0xFFFF); at16(o + 2, v >> 16); };
    auto at64 = [&](std::size_t o, std::uint64_t v) { at32(o, static_cast<std::uint32_t>(v)); at32(o + 4, static_cast<std::uint32_t>(v >> 32)); };
    at16(16, 2);
    at16(18, 0x3E);
    at32(20, 1);
    at64(32, 64);
    at16(52, 64);
    at16(54, 56);
    at16(56, 1);
    at32(64, 1);
    at32(68, 5);
    at64(72, 4096);
    at64(80, 0);
    at64(88, 0);
    at64(96, 64);
    at64(104, 64);
    at64(112, 4096);
    files["polyglot-elf.dcm"] = part10(image(root + "4", "DEMO^ELF"), root + "4", uids::kSecondaryCapture, elf);
  }
  files["polyglot-script.dcm"] = part10(image(root + "5", "DEMO^SCRIPT"), root + "5", uids::kSecondaryCapture,
                                        "#!/bin/sh\necho this file is also a shell script\nexit 0\n");
  files["payload-private-pe.dcm"] = part10(
      image(root + "6", "DEMO^PAYLOAD", el(0x29, 0x10, "LO", "DEMO PRIVATE") + el(0x29, 0x1010, "OB", mz(64) + pe_body())),
      root + "6");
  {
    const Bytes clean = part10(image(root + "7", "DEMO^ZIP"), root + "7");
    const Bytes name = "evil.class", data("\xca\xfe\xba\xbe\0\0\0\x34", 8);
    const auto crc = static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    Bytes local;
    put32(local, 0x04034B50);
    for (unsigned v : {20u, 0u, 0u, 0u, 0u}) put16(local, v);
    put32(local, crc);
    put32(local, static_cast<std::uint32_t>(data.size()));
    put32(local, static_cast<std::uint32_t>(data.size()));
    put16(local, static_cast<unsigned>(name.size()));
    put16(local, 0);
    local += name + data;
    Bytes central;
    put32(central, 0x02014B50);
    for (unsigned v : {20u, 20u, 0u, 0u, 0u, 0u}) put16(central, v);
    put32(central, crc);
    put32(central, static_cast<std::uint32_t>(data.size()));
    put32(central, static_cast<std::uint32_t>(data.size()));
    put16(central, static_cast<unsigned>(name.size()));
    for (unsigned v : {0u, 0u, 0u, 0u}) put16(central, v);
    put32(central, 0);
    put32(central, static_cast<std::uint32_t>(clean.size()));
    central += name;
    Bytes end;
    put32(end, 0x06054B50);
    for (unsigned v : {0u, 0u, 1u, 1u}) put16(end, v);
    put32(end, static_cast<std::uint32_t>(central.size()));
    put32(end, static_cast<std::uint32_t>(clean.size() + local.size()));
    put16(end, 0);
    files["polyglot-zip-appended.dcm"] = clean + local + central + end;
  }
  {
    Bytes noise;
    for (int i = 0; i < 128; ++i) noise += static_cast<char>((i * 37 + 11) % 251 + 1);
    files["nonzero-preamble.dcm"] = part10(image(root + "8", "DEMO^NOISE"), root + "8", uids::kSecondaryCapture, noise);
  }
  const Bytes pdf =
      "%PDF-1.7\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj\n"
      "2 0 obj << /S /JavaScript /JS (app.alert('demo')) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
  files["document-active.pdf.dcm"] = part10(document(root + "9", uids::kEncapsulatedPdf, pdf, "application/pdf"), root + "9", uids::kEncapsulatedPdf);
  const Bytes benign = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
  files["document-benign.pdf.dcm"] = part10(document(root + "10", uids::kEncapsulatedPdf, benign, "application/pdf"), root + "10", uids::kEncapsulatedPdf);
  const Bytes xml =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
      "<ClinicalDocument xmlns=\"urn:hl7-org:v3\">&x;</ClinicalDocument>\n";
  files["document-cda-xxe.dcm"] = part10(document(root + "11", uids::kEncapsulatedCda, xml, "text/xml"), root + "11", uids::kEncapsulatedCda);
  const Bytes trunc = part10(image(root + "12", "DEMO^TRUNCATED"), root + "12");
  files["malformed-truncated.dcm"] = trunc.substr(0, trunc.size() - 20);
  files["malformed-meta-mismatch.dcm"] = part10(image(root + "13", "DEMO^MISMATCH"), root + "13.999");
  files["README.txt"] = "Synthetic samples written by dicomguard demo. Every patient in them is invented.\n";
  for (const auto& [n, b] : files) {
    std::ofstream out(fs::path(dir) / n, std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
    if (!out) throw std::runtime_error("cannot write " + (fs::path(dir) / n).string());
  }
  return static_cast<int>(files.size());
}

}  // namespace dg::lab
