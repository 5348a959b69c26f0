// Compiled with src/files/'s include path by the layering test: files/ may not use the scan, so this must fail.
#include "scan/engine.h"
