// Compiled with src/files/'s include path by the layering test: files/ stands on dicom/, so this must compile.
#include "dicom/walker.h"
#include "findings/finding.h"
