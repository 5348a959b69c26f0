// Table E.1-1 as compiled in, and the one rule from a row and the options to an action.
#include <gtest/gtest.h>

#include "deid/profile.h"
#include "deid/pseudonym.h"
#include "deid/safe_private.h"

using namespace dg::deid;
using dg::dicom::tag;

TEST(DeidProfile, TableHasEveryRowAndThePatternRows) {
  EXPECT_EQ(table().size(), 621u);
  EXPECT_EQ(row_for(tag(0x5000, 0x0010))->tag_text, "(50XX,XXXX)");
  EXPECT_EQ(row_for(tag(0x501E, 0x3000))->tag_text, "(50XX,XXXX)");
  EXPECT_EQ(row_for(tag(0x6000, 0x3000))->tag_text, "(60XX,3000)");
  EXPECT_EQ(row_for(tag(0x601E, 0x4000))->tag_text, "(60XX,4000)");
  EXPECT_EQ(row_for(tag(0x6000, 0x0010)), nullptr);  // overlay rows: not listed, kept
  EXPECT_EQ(row_for(tag(0x5020, 0x0010)), nullptr);  // past the curve groups
  EXPECT_EQ(row_for(tag(0x0009, 0x1001))->tag_text.rfind("(GGGG,EEEE)", 0), 0u);
  EXPECT_EQ(row_for(tag(0x6001, 0x3000))->tag_text.rfind("(GGGG,EEEE)", 0), 0u);  // odd: private
  EXPECT_EQ(row_for(tag(0x0028, 0x0010)), nullptr);
}

TEST(DeidProfile, CompoundCodesResolveConservatively) {
  EXPECT_EQ(resolve("D"), Action::dummy);
  EXPECT_EQ(resolve("Z"), Action::empty);
  EXPECT_EQ(resolve("X"), Action::remove);
  EXPECT_EQ(resolve("K"), Action::keep);
  EXPECT_EQ(resolve("C"), Action::clean);
  EXPECT_EQ(resolve("U"), Action::uid);
  EXPECT_EQ(resolve("Z/D"), Action::dummy);
  EXPECT_EQ(resolve("X/D"), Action::dummy);
  EXPECT_EQ(resolve("X/Z/D"), Action::dummy);
  EXPECT_EQ(resolve("X/Z"), Action::empty);
  EXPECT_EQ(resolve("X/Z/U*"), Action::uid);
  EXPECT_EQ(resolve("??"), Action::remove);
  // Every cell of the table is a code the rule knows.
  for (const Row& r : table())
    for (const std::string* c : {&r.basic, &r.safe_private, &r.uids, &r.device, &r.institution, &r.patient_chars,
                                 &r.full_dates, &r.modified_dates, &r.descriptors, &r.structured, &r.graphics})
      if (!c->empty())
        EXPECT_TRUE(*c == "D" || *c == "Z" || *c == "X" || *c == "K" || *c == "C" || *c == "U" || *c == "Z/D" ||
                    *c == "X/D" || *c == "X/Z/D" || *c == "X/Z" || *c == "X/Z/U*")
            << r.tag_text << " " << *c;
}

TEST(DeidProfile, BasicProfileActions) {
  const Options o;
  EXPECT_EQ(action_for(tag(0x0010, 0x0010), o), Action::empty);   // Patient's Name Z
  EXPECT_EQ(action_for(tag(0x0010, 0x0020), o), Action::dummy);   // Patient ID Z/D
  EXPECT_EQ(action_for(tag(0x0020, 0x000D), o), Action::uid);     // Study Instance UID U
  EXPECT_EQ(action_for(tag(0x0008, 0x0022), o), Action::empty);   // Acquisition Date X/Z
  EXPECT_EQ(action_for(tag(0x0008, 0x002A), o), Action::dummy);   // Acquisition DateTime X/Z/D
  EXPECT_EQ(action_for(tag(0x0018, 0x1400), o), Action::dummy);   // X/D
  EXPECT_EQ(action_for(tag(0x0008, 0x1140), o), Action::uid);     // Referenced Image Sequence X/Z/U*
  EXPECT_EQ(action_for(tag(0x0010, 0x1010), o), Action::remove);  // Patient's Age X
  EXPECT_EQ(action_for(tag(0x0009, 0x0010), o), Action::remove);  // private
  EXPECT_EQ(action_for(tag(0x5000, 0x3000), o), Action::remove);  // curve data
  EXPECT_EQ(action_for(tag(0x6000, 0x3000), o), Action::remove);  // overlay data
  EXPECT_EQ(action_for(tag(0x6000, 0x4000), o), Action::remove);  // overlay comments
  EXPECT_EQ(action_for(tag(0x0028, 0x0010), o), Action::keep);    // not listed
}

TEST(DeidProfile, EachOptionOverridesItsColumn) {
  Options o;
  o.retain_uids = true;
  EXPECT_EQ(action_for(tag(0x0020, 0x000D), o), Action::keep);
  o = {};
  o.retain_device_identity = true;
  EXPECT_EQ(action_for(tag(0x0018, 0x1000), o), Action::keep);
  o = {};
  o.retain_institution_identity = true;
  EXPECT_EQ(action_for(tag(0x0008, 0x0080), o), Action::keep);
  o = {};
  o.retain_patient_characteristics = true;
  EXPECT_EQ(action_for(tag(0x0010, 0x1010), o), Action::keep);
  o = {};
  o.retain_long_full_dates = true;
  EXPECT_EQ(action_for(tag(0x0008, 0x0022), o), Action::keep);
  o = {};
  o.retain_long_modified_dates = true;
  EXPECT_EQ(action_for(tag(0x0008, 0x0022), o), Action::clean);
  o = {};
  o.clean_descriptors = true;
  EXPECT_EQ(action_for(tag(0x0040, 0x0275), o), Action::clean);
  EXPECT_EQ(action_for(tag(0x0018, 0x4000), o), Action::clean);
  o = {};
  o.clean_structured_content = true;
  EXPECT_EQ(action_for(tag(0x0040, 0xA730), o), Action::clean);
  o = {};
  o.clean_graphics = true;
  EXPECT_EQ(action_for(tag(0x5002, 0x3000), o), Action::clean);
  EXPECT_EQ(action_for(tag(0x6002, 0x3000), o), Action::clean);
  EXPECT_EQ(action_for(tag(0x6002, 0x4000), o), Action::clean);
  o = {};
  o.retain_safe_private = true;
  EXPECT_EQ(action_for(tag(0x0009, 0x1001), o), Action::clean);
  // An option without a cell in a row leaves the basic profile.
  o = {};
  o.retain_uids = true;
  EXPECT_EQ(action_for(tag(0x0010, 0x0010), o), Action::empty);
  // K wins over C when both options have a cell.
  o = {};
  o.retain_long_full_dates = o.retain_long_modified_dates = true;
  EXPECT_EQ(action_for(tag(0x0008, 0x0022), o), Action::keep);
}

TEST(DeidProfile, OptionNames) {
  Options o;
  EXPECT_TRUE(option_names(o).empty());
  o.retain_uids = o.clean_graphics = true;
  EXPECT_EQ(option_names(o), (std::vector<std::string>{"retain-uids", "clean-graphics"}));
}

TEST(DeidSafePrivate, MatchesByCreatorAndOffset) {
  EXPECT_GT(safe_private_rows(), 400u);
  EXPECT_TRUE(is_safe_private(0x7053, 0x00, "Philips PET Private Group"));
  EXPECT_TRUE(is_safe_private(0x7053, 0x09, "Philips PET Private Group "));  // padding ignored
  EXPECT_TRUE(is_safe_private(0x00E1, 0x21, "ELSCINT1"));
  EXPECT_FALSE(is_safe_private(0x00E1, 0x21, "ELSCINT2"));
  EXPECT_FALSE(is_safe_private(0x00E1, 0x22, "ELSCINT1"));
  EXPECT_FALSE(is_safe_private(0x00E3, 0x21, "ELSCINT1"));
}
