// The DICOM threat matrix (data/threat_matrix.json, embedded at build time): tactics by DICOM techniques, each
// cell naming the dicomguard checks that detect it, and its state in a set of results.
#pragma once

#include <string>
#include <vector>

#include "report/results.h"

namespace dg::report {

struct Tactic {
  std::string id, name, attack;
};

struct Technique {
  std::string id, tactic, name, summary, not_covered;
  std::vector<std::string> attack, checks;
};

struct Matrix {
  std::string title, source;
  std::vector<Tactic> tactics;
  std::vector<Technique> techniques;
};

const Matrix& threat_matrix();

// exposed (a check of the technique was found), not-seen (its checks were measured and none found),
// not-measured (the results hold no measurement by those checks), not-covered (no dicomguard check detects it).
enum class TechniqueState { exposed, not_seen, not_measured, not_covered };
const char* state_name(TechniqueState s);   // "exposed", "not-seen", "not-measured", "not-covered"
const char* state_label(TechniqueState s);  // "exposed", "not seen", "not measured", "no check yet"
TechniqueState technique_state(const Technique& t, const Results& r);
// Whether the results hold a measurement that could have produced this check.
bool measured(const std::string& check, const Results& r);

}  // namespace dg::report
