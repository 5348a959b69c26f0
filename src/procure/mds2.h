// dicomguard mds2: a draft of the MDS2 2019 form's questions (ANSI/NEMA HN 1-2019; data/mds2.json, embedded)
// that measurements can answer, for one device: Yes, No or not measured, each with its evidence, in the form's
// order. Yes and No come from report::judge on the device's part of the results (report::only_host).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "report/results.h"

namespace dg::procure {

struct Question {
  std::string id, section, section_title, question, answer, note;
  std::vector<std::string> checks, measured_by;
  bool exports = false;  // answered from file records, which name no device (mds2 --exports)
};
const std::vector<Question>& questions();
const std::string& mds2_source();  // where the question list comes from (data/mds2.json "about")
// Every question ID of the form this project names: the questions above and those data/rfp.json cites only.
const std::set<std::string>& known_ids();

enum class Answer { yes, no, not_measured };
const char* answer_label(Answer a);  // "Yes", "No", "not measured"

struct Answered {
  const Question* q = nullptr;
  Answer answer = Answer::not_measured;
  std::string evidence;
};

struct Mds2Options {
  std::string host;      // an address or host name the results give the device
  std::set<int> ports;   // its ports, when the address is shared with other devices (empty: all)
  bool exports = false;  // the file and deid --verify records given are this device's exports
};

// Returns an error message ("no record in these results is about HOST; hosts: ...") or "" with `out` filled.
std::string answer(const report::Results& r, const Mds2Options& o, std::vector<Answered>& out);

// Markdown or CSV, questions in the form's order with their IDs; `device` names it in the title ("10.0.0.5").
std::string render_mds2(const std::vector<Answered>& a, const std::string& device, const std::string& format);

}  // namespace dg::procure
