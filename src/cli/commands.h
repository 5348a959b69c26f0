// One function per subcommand: each registers its flags and returns the action to run after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace dg::cli {

using Action = std::function<int()>;  // returns the process exit code

Action add_files(CLI::App& app);
Action add_sanitize(CLI::App& app);
Action add_checks(CLI::App& app);
Action add_scan(CLI::App& app);
Action add_lab(CLI::App& app);
Action add_tls(CLI::App& app);
Action add_report(CLI::App& app);
Action add_matrix(CLI::App& app);
Action add_demo(CLI::App& app);
Action add_deid(CLI::App& app);
Action add_ca(CLI::App& app);
Action add_gateway(CLI::App& app);
Action add_weblog(CLI::App& app);
Action add_audit(CLI::App& app);
Action add_shodan(CLI::App& app);
Action add_explain(CLI::App& app);
Action add_rfp(CLI::App& app);
Action add_mds2(CLI::App& app);
Action add_completion(CLI::App& app);  // hidden: completion scripts, the list of subcommands

// Exit codes shared by every subcommand.
inline constexpr int kExitClean = 0, kExitFindings = 1, kExitError = 2;
// scan: no DICOM service (DIMSE, DICOM-TLS or a web server that serves DICOM) answered on any endpoint, so
// nothing was assessed; not "clean".
inline constexpr int kExitNothingFound = 3;

}  // namespace dg::cli
