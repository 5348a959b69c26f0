// dicomguard lab: a leaky and a hardened DICOM service on 127.0.0.1 to practise on (and, with --legacy, a
// plaintext-only legacy archive); Ctrl-C stops them.
#include <cstdio>
#include <fmt/format.h>

#include "cli/commands.h"
#include "lab/lab.h"

namespace dg::cli {

Action add_lab(CLI::App& app) {
  auto* sub = app.add_subcommand("lab", "Start practice DICOM services on 127.0.0.1 (a leaky PACS and a hardened "
                                        "TLS-only one) until Ctrl-C");
  auto leaky = std::make_shared<int>(0);
  auto hardened = std::make_shared<int>(0);
  sub->add_option("--leaky-port", *leaky, "Port of the leaky PACS (default: any free port)")->check(CLI::Range(0, 65535));
  sub->add_option("--hardened-port", *hardened, "Port of the hardened PACS (default: any free port)")
      ->check(CLI::Range(0, 65535));
  auto legacy = std::make_shared<bool>(false);
  auto legacy_port = std::make_shared<int>(0);
  sub->add_flag("--legacy", *legacy,
                "Also start a legacy modality/archive that cannot do TLS (plain TCP only, called AE LEGACY_PACS)");
  auto* lport = sub->add_option("--legacy-port", *legacy_port, "Port of the legacy archive (default: any free port; "
                                                               "implies --legacy)")
                    ->check(CLI::Range(0, 65535));
  sub->footer("leaky: any AE title; C-ECHO, C-FIND (3 synthetic patients), C-MOVE, C-GET, C-STORE open; plain TCP.\n"
              "hardened: TLS only (a throwaway self-signed certificate), called AE HARDENED_PACS, calling AE "
              "LAB_VIEWER only.\nlegacy (--legacy): plain TCP only (no TLS), called AE LEGACY_PACS only, any "
              "calling AE; C-ECHO and C-STORE only.\nAll listen on 127.0.0.1 only. Stored objects are counted and "
              "discarded.");
  return [leaky, hardened, legacy, legacy_port, lport]() {
    const bool with_legacy = *legacy || lport->count() > 0;
    lab::Lab l;
    std::uint16_t lp, hp, gp = 0;
    try {
      lp = l.add({"leaky", "LEAKY_PACS", true, {}, false, static_cast<std::uint16_t>(*leaky)});
      hp = l.add({"hardened", "HARDENED_PACS", false, {"LAB_VIEWER"}, true, static_cast<std::uint16_t>(*hardened)});
      if (with_legacy) {
        lab::ServerConfig c{"legacy", "LEGACY_PACS", false, {}, false, static_cast<std::uint16_t>(*legacy_port)};
        c.services = lab::Services::echo_store;
        gp = l.add(c);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard lab: %s\n", e.what());
      return kExitError;
    }
    std::printf("leaky     127.0.0.1:%u  dimse      any AE title; echo, find, move, get, store open\n", lp);
    std::printf("hardened  127.0.0.1:%u  dimse-tls  called AE HARDENED_PACS, calling AE LAB_VIEWER only\n", hp);
    if (with_legacy)
      std::printf("legacy    127.0.0.1:%u  dimse      called AE LEGACY_PACS, any calling AE; echo, store; plain TCP "
                  "only (no TLS)\n", gp);
    const std::string more = with_legacy ? fmt::format(" 127.0.0.1:{}", gp) : "";
    std::printf("scan them: dicomguard scan 127.0.0.1:%u 127.0.0.1:%u%s    (Ctrl-C stops the lab)\n", lp, hp,
                more.c_str());
    std::fflush(stdout);
    l.run(true);
    std::fprintf(stderr, "dicomguard lab: stopped after %llu associations, %llu objects stored and discarded\n",
                 static_cast<unsigned long long>(l.associations()), static_cast<unsigned long long>(l.stored()));
    return kExitClean;
  };
}

}  // namespace dg::cli
