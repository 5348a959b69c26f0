// dicomguard mds2 RESULTS.jsonl... --host ADDRESS: a draft of the MDS2 2019 form's questions that measurements
// answer, for one device, each Yes, No or not measured with its evidence, in the form's order.
#include <cstdio>

#include "cli/commands.h"
#include "procure/mds2.h"
#include "cli/results_input.h"

namespace dg::cli {

Action add_mds2(CLI::App& app) {
  auto* sub = app.add_subcommand("mds2", "Draft the MDS2 2019 form's answers for one device from measurements "
                                         "(Yes, No or not measured, each with its evidence)");
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto o = std::make_shared<procure::Mds2Options>();
  auto format = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  sub->add_option("RESULTS", *inputs, "JSON Lines of dicomguard scan/tls/audit listen (and files, deid --verify with "
                                      "--exports) --json")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--host", o->host, "The device: an address (or the host name) its records give")->required();
  sub->add_option("--port", o->ports, "Only these ports of the address (several devices behind one address)")
      ->check(CLI::Range(1, 65535));
  sub->add_flag("--exports", o->exports, "The file and deid --verify records given are this device's exports "
                                         "(files name no device, so they are left out without this)");
  sub->add_option("--format", *format, "md (default, or from -o's extension) or csv")->check(CLI::IsMember({"md", "csv"}));
  sub->add_option("-o,--output", *output, "Write to this file instead of standard output");
  sub->footer("The question IDs and their order are the form's (ANSI/NEMA HN 1-2019); the wording is paraphrased. "
              "Questions no measurement can answer are the manufacturer's and are not listed.");
  return [inputs, o, format, output]() {
    report::Results r;
    if (std::string e = load_results(*inputs, r); !e.empty()) {
      std::fprintf(stderr, "dicomguard mds2: %s\n", e.c_str());
      return kExitError;
    }
    std::vector<procure::Answered> answers;
    if (std::string e = procure::answer(r, *o, answers); !e.empty()) {
      std::fprintf(stderr, "dicomguard mds2: %s\n", e.c_str());
      return kExitError;
    }
    std::string fmt = *format;
    if (fmt.empty()) fmt = output->size() > 4 && output->substr(output->size() - 4) == ".csv" ? "csv" : "md";
    std::string device = o->host;
    for (auto it = o->ports.begin(); it != o->ports.end(); ++it)
      device += (it == o->ports.begin() ? (o->ports.size() == 1 ? " (port " : " (ports ") : ", ") + std::to_string(*it);
    if (!o->ports.empty()) device += ")";
    if (std::string e = write_output(*output, procure::render_mds2(answers, device, fmt)); !e.empty()) {
      std::fprintf(stderr, "dicomguard mds2: %s\n", e.c_str());
      return kExitError;
    }
    return kExitClean;
  };
}

}  // namespace dg::cli
