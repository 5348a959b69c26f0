// The residual-PHI verifier (`dicomguard deid --verify OUTDIR [--against INPUT]`): checks de-identified files
// against the options each one records (De-identification Method Code Sequence, CID 7050), whoever made them.
//   deid.residual.attribute  an attribute of PS3.15 Table E.1-1 present against its action (X present, Z not empty,
//                            or the file does not say it was de-identified)
//   deid.residual.private    a private attribute outside the Safe Private list (or any, without that option)
//   deid.residual.uid        a UID that is not a registry UID and not a new one (2.25.) where the table asks for U,
//                            or, with --against, one of the input's UIDs or a UID under one of the input's roots
//   deid.residual.value      with --against: a name, ID, date or free-text value of the input (4 characters or
//                            more) of an attribute the table acts on, found in the output's bytes
//   deid.burned-in.suspected Burned In Annotation YES, or absent for a modality that usually carries burned-in text
// Evidence names tags, offsets and counts, never the values found.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "dicom/tag.h"
#include "deid/profile.h"
#include "findings/finding.h"

namespace dg::deid {

// What the input of a de-identification held that its output must not: gathered once from the input tree.
struct Against {
  struct Needle {
    std::string text;  // a value, or a name component, of at least 4 characters
    dicom::Tag tag;    // the attribute it came from (the options a file records decide whether it may remain)
    bool safe_private = false;  // a private attribute of the Safe Private list (kept by --retain-safe-private)
    bool date = false;          // DA or DT (kept shifted by --retain-long-modified-dates)
  };
  std::vector<Needle> needles;           // deduplicated by (text, tag)
  std::set<std::string> uids;            // the input's non-registry UIDs
  std::set<std::string> roots;           // their parents (the UID without its last component), 3+ components
  std::uint64_t files = 0, unreadable = 0;
};

// Reads one input file's values into `a` (a file that is not DICOM adds nothing). Never throws.
void collect_against(std::span<const std::uint8_t> file, Against& a);

// The options a de-identified file records in (0012,0064) (CID 7050 codes 113101-113112); `found` says whether
// the file says it was de-identified at all (Patient Identity Removed YES and the code sequence present).
Options recorded_options(std::span<const std::uint8_t> file, bool& found);

// Verifies one output file. The record: type "verify", path, status clean|residual|not-dicom|error, the options
// it records, counts of attributes, UIDs and bytes checked, and its findings.
Record verify_file(const std::string& path, std::span<const std::uint8_t> file, const Against* against);

}  // namespace dg::deid
