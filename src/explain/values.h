// The reader's own numbers: the names of template.h counted from loaded results (report/results). What a search
// engine saw is not counted as measured, except exposure.internet (`internet`), which only a search engine sees.
#pragma once

#include "explain/template.h"
#include "report/results.h"

namespace dg::explain {

Values measure(const report::Results& r);
// No results: every section that needs them is left out.
inline Values no_results() { return {}; }

}  // namespace dg::explain
