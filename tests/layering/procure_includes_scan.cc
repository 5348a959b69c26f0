// Compiled with src/procure/'s include path by the layering test: procure/ judges results (report/), it does not
// run a scan, so this must fail.
#include "scan/engine.h"
