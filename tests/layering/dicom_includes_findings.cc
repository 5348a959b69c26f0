// Compiled with src/dicom/'s include path by the layering test: dicom/ stands on util/ only, so this must fail.
#include "findings/finding.h"
