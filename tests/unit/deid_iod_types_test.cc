// The IOD attribute Types of data/deid/iod_types.json (PS3.3, 2008 edition, via GDCM's Part3.xml),
// checked against facts of the standard.
#include <gtest/gtest.h>

#include <string>

#include "deid/iod_types.h"
#include "dicom/tag.h"

namespace {

using dg::deid::AttributeType;
using dg::deid::attribute_type;
using dg::dicom::tag;

constexpr const char* kCt = "1.2.840.10008.5.1.4.1.1.2";
constexpr const char* kMr = "1.2.840.10008.5.1.4.1.1.4";

TEST(DeidIodTypes, CtImageGeneralStudyAndPatient) {
  // General Study module (C.7.2.1): Referenced Study Sequence is Type 3, Study Instance UID Type 1,
  // Accession Number, Study Date, Referring Physician's Name, Study ID Type 2.
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x1110)), AttributeType::type3);
  EXPECT_EQ(attribute_type(kCt, tag(0x0020, 0x000D)), AttributeType::type1);
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x0050)), AttributeType::type2);
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x0020)), AttributeType::type2);
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x0090)), AttributeType::type2);
  EXPECT_EQ(attribute_type(kCt, tag(0x0020, 0x0010)), AttributeType::type2);
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x1030)), AttributeType::type3);  // Study Description
  // Patient module (C.7.1.1): Patient's Name, Patient ID, Birth Date, Sex Type 2.
  EXPECT_EQ(attribute_type(kCt, tag(0x0010, 0x0010)), AttributeType::type2);
  EXPECT_EQ(attribute_type(kCt, tag(0x0010, 0x0020)), AttributeType::type2);
  EXPECT_EQ(attribute_type(kCt, tag(0x0010, 0x0030)), AttributeType::type2);
  EXPECT_EQ(attribute_type(kCt, tag(0x0010, 0x0040)), AttributeType::type2);
}

TEST(DeidIodTypes, CtImageSeriesEquipmentAndSopCommon) {
  EXPECT_EQ(attribute_type(kCt, tag(0x0020, 0x000E)), AttributeType::type1);  // Series Instance UID
  EXPECT_EQ(attribute_type(kCt, tag(0x0020, 0x0052)), AttributeType::type1);  // Frame of Reference UID
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x0070)), AttributeType::type2);  // Manufacturer
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x0080)), AttributeType::type3);  // Institution Name
  EXPECT_EQ(attribute_type(kCt, tag(0x0018, 0x1000)), AttributeType::type3);  // Device Serial Number
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x0016)), AttributeType::type1);  // SOP Class UID
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x0018)), AttributeType::type1);  // SOP Instance UID
  // Digital Signatures Macro, included at level 0 of SOP Common: expanded.
  EXPECT_EQ(attribute_type(kCt, tag(0xFFFA, 0xFFFA)), AttributeType::type3);
  // Image Pixel Macro, included at level 0 of Image Pixel: expanded.
  EXPECT_EQ(attribute_type(kCt, tag(0x0028, 0x0010)), AttributeType::type1);  // Rows
}

TEST(DeidIodTypes, MostDemandingTypeAcrossModules) {
  // Image Type is Type 3 in General Image but Type 1 in the CT Image module; Acquisition Number is
  // Type 3 in General Image but Type 2 in CT Image.
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x0008)), AttributeType::type1);
  EXPECT_EQ(attribute_type(kCt, tag(0x0020, 0x0012)), AttributeType::type2);
}

TEST(DeidIodTypes, MrImageMapped) {
  ASSERT_TRUE(dg::deid::iod_known(kMr));
  EXPECT_EQ(attribute_type(kMr, tag(0x0008, 0x1110)), AttributeType::type3);
  EXPECT_EQ(attribute_type(kMr, tag(0x0010, 0x0010)), AttributeType::type2);
  EXPECT_EQ(attribute_type(kMr, tag(0x0018, 0x0020)), AttributeType::type1);  // Scanning Sequence (MR Image)
  EXPECT_EQ(attribute_type(kMr, tag(0x0018, 0x1030)), AttributeType::type3);  // Protocol Name
  EXPECT_EQ(attribute_type(kMr, tag(0x0020, 0x0011)), AttributeType::type2);  // Series Number
}

TEST(DeidIodTypes, OtherStorageClassesMapped) {
  for (const char* uid : {"1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1",
                          "1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.12.1",
                          "1.2.840.10008.5.1.4.1.1.20", "1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.88.11",
                          "1.2.840.10008.5.1.4.1.1.104.1", "1.2.840.10008.5.1.4.1.1.104.2", "1.2.840.10008.5.1.4.1.1.481.2"}) {
    SCOPED_TRACE(uid);
    EXPECT_TRUE(dg::deid::iod_known(uid));
    EXPECT_EQ(attribute_type(uid, tag(0x0020, 0x000D)), AttributeType::type1);
    EXPECT_EQ(attribute_type(uid, tag(0x0008, 0x1110)), AttributeType::type3);
  }
  EXPECT_GT(dg::deid::iod_count(), 50u);
}

TEST(DeidIodTypes, UnknownSopClassOrTag) {
  EXPECT_FALSE(dg::deid::iod_known("1.2.3.4"));
  EXPECT_EQ(attribute_type("1.2.3.4", tag(0x0010, 0x0010)), AttributeType::unknown);
  EXPECT_EQ(attribute_type("", tag(0x0010, 0x0010)), AttributeType::unknown);
  // A nested attribute (Referenced SOP Instance UID, inside Referenced Study Sequence) is not top-level.
  EXPECT_EQ(attribute_type(kCt, tag(0x0008, 0x1155)), AttributeType::unknown);
  // Repeating groups (Overlay Plane, 60xx) are not in the table.
  EXPECT_EQ(attribute_type(kCt, tag(0x6000, 0x3000)), AttributeType::unknown);
  EXPECT_EQ(attribute_type(kCt, tag(0x0009, 0x0010)), AttributeType::unknown);
}

TEST(DeidIodTypes, UidPaddingIgnored) {
  EXPECT_EQ(attribute_type(std::string(kCt) + '\0', tag(0x0008, 0x1110)), AttributeType::type3);
  EXPECT_EQ(attribute_type("1.2.840.10008.5.1.4.1.1.4 ", tag(0x0010, 0x0010)), AttributeType::type2);
}

TEST(DeidIodTypes, Names) {
  EXPECT_STREQ(dg::deid::attribute_type_name(AttributeType::unknown), "unknown");
  EXPECT_STREQ(dg::deid::attribute_type_name(AttributeType::type1), "1");
  EXPECT_STREQ(dg::deid::attribute_type_name(AttributeType::type1c), "1C");
  EXPECT_STREQ(dg::deid::attribute_type_name(AttributeType::type2), "2");
  EXPECT_STREQ(dg::deid::attribute_type_name(AttributeType::type2c), "2C");
  EXPECT_STREQ(dg::deid::attribute_type_name(AttributeType::type3), "3");
}

}  // namespace
