// Executable headers for polyglot tests: each is the smallest header our recogniser (and the OS loader's
// first checks) accept, with its pointers aimed where the test says.
#pragma once

#include "builder.h"

namespace dgtest {

// DOS MZ header whose e_lfanew points at `lfanew`.
inline Bytes mz_header(std::uint32_t lfanew) {
  Bytes b(64, 0);
  b[0] = 'M'; b[1] = 'Z';
  b[0x3C] = lfanew & 0xFF; b[0x3D] = (lfanew >> 8) & 0xFF; b[0x3E] = (lfanew >> 16) & 0xFF; b[0x3F] = lfanew >> 24;
  return b;
}
// "PE\0\0" + COFF header (x86-64) + some code bytes.
inline Bytes pe_body() {
  Bytes b = {'P', 'E', 0, 0, 0x64, 0x86, 1, 0};
  b.resize(24 + 240, 0x90);
  return b;
}
// A complete small PE image: MZ header with e_lfanew = 64, then the PE body.
inline Bytes pe_image() {
  Bytes b = mz_header(64);
  append(b, pe_body());
  return b;
}
// ELF64 little-endian executable header with one PT_LOAD program header at offset 64 loading from `load_off`.
inline Bytes elf_header(std::uint64_t load_off) {
  Bytes b(64, 0);
  b[0] = 0x7F; b[1] = 'E'; b[2] = 'L'; b[3] = 'F'; b[4] = 2; b[5] = 1; b[6] = 1;
  b[16] = 2;            // ET_EXEC
  b[18] = 0x3E;         // x86-64
  b[20] = 1;            // version
  b[32] = 64;           // e_phoff
  b[52] = 64;           // e_ehsize
  b[54] = 56;           // e_phentsize
  b[56] = 1;            // e_phnum
  Bytes ph(56, 0);
  ph[0] = 1;            // PT_LOAD
  ph[4] = 5;            // R+X
  for (int i = 0; i < 8; ++i) ph[8 + i] = (load_off >> (8 * i)) & 0xFF;  // p_offset
  ph[32] = 0x40;        // p_filesz
  ph[40] = 0x40;        // p_memsz
  append(b, ph);
  return b;             // 120 bytes: fits the preamble
}
// Mach-O 64-bit (x86-64, little endian) with one LC_SEGMENT_64 whose fileoff is `seg_off`.
inline Bytes macho_header(std::uint64_t seg_off) {
  Bytes b;
  put32(b, 0xFEEDFACF);  // written little endian: CF FA ED FE
  put32(b, 0x01000007);  // CPU_TYPE_X86_64
  put32(b, 3);
  put32(b, 2);           // MH_EXECUTE
  put32(b, 1);           // ncmds
  put32(b, 72);          // sizeofcmds
  put32(b, 0);
  put32(b, 0);
  put32(b, 0x19);        // LC_SEGMENT_64
  put32(b, 72);
  Bytes name(16, 0);
  std::memcpy(name.data(), "__TEXT", 6);
  append(b, name);
  for (int i = 0; i < 2; ++i) put32(b, 0);                   // vmaddr
  for (int i = 0; i < 2; ++i) put32(b, i ? 0 : 0x1000);      // vmsize
  put32(b, static_cast<std::uint32_t>(seg_off)); put32(b, static_cast<std::uint32_t>(seg_off >> 32));  // fileoff
  put32(b, 0x40); put32(b, 0);                               // filesize
  put32(b, 5); put32(b, 5); put32(b, 0); put32(b, 0);        // maxprot, initprot, nsects, flags
  return b;              // 104 bytes
}
// A fat (universal) Mach-O header with two slices.
inline Bytes macho_fat_header(std::uint32_t off1, std::uint32_t off2) {
  Bytes b;
  put32(b, 0xCAFEBABE, true);
  put32(b, 2, true);
  for (std::uint32_t off : {off1, off2}) {
    put32(b, 0x01000007, true); put32(b, 3, true); put32(b, off, true); put32(b, 0x100, true); put32(b, 12, true);
  }
  return b;
}
// A stored (uncompressed) ZIP archive holding one file, with central directory and end record.
inline Bytes zip_archive(std::uint32_t base_offset) {
  Bytes z;
  const std::string name = "payload.class", data = "not really a class";
  put32(z, 0x04034B50); put16(z, 20); put16(z, 0); put16(z, 0); put16(z, 0); put16(z, 0);
  put32(z, 0); put32(z, static_cast<std::uint32_t>(data.size())); put32(z, static_cast<std::uint32_t>(data.size()));
  put16(z, static_cast<std::uint16_t>(name.size())); put16(z, 0);
  z.insert(z.end(), name.begin(), name.end());
  z.insert(z.end(), data.begin(), data.end());
  const std::uint32_t cd = base_offset + static_cast<std::uint32_t>(z.size());
  Bytes c;
  put32(c, 0x02014B50); put16(c, 20); put16(c, 20); put16(c, 0); put16(c, 0); put16(c, 0); put16(c, 0);
  put32(c, 0); put32(c, static_cast<std::uint32_t>(data.size())); put32(c, static_cast<std::uint32_t>(data.size()));
  put16(c, static_cast<std::uint16_t>(name.size())); put16(c, 0); put16(c, 0); put16(c, 0); put16(c, 0);
  put32(c, 0); put32(c, base_offset);
  c.insert(c.end(), name.begin(), name.end());
  append(z, c);
  put32(z, 0x06054B50); put16(z, 0); put16(z, 0); put16(z, 1); put16(z, 1);
  put32(z, static_cast<std::uint32_t>(c.size())); put32(z, cd); put16(z, 0);
  return z;
}

}  // namespace dgtest
