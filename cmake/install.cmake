# Installing dicomguard: the binary, a man page per subcommand (help2man, at build time), bash and zsh
# completions (written by the binary itself, at build time), and a Debian package (CPack, `make deb`).
# The list of subcommands, their flags and their help all come from the built binary, so none of this goes stale.
include(GNUInstallDirs)

install(TARGETS dicomguard RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(DG_GEN_SCRIPT ${CMAKE_SOURCE_DIR}/cmake/gen-install-files.cmake)
# Sanitizer and fuzzing builds are never installed: they build man pages and completions only on request.
set(DG_ALL ALL)
if(DG_SANITIZE OR DG_FUZZ)
  set(DG_ALL "")
endif()

# ---------------------------------------------------------------- completions: `dicomguard completion bash|zsh`
set(DG_COMPLETIONS_DIR ${CMAKE_BINARY_DIR}/completions)
add_custom_command(
  OUTPUT ${DG_COMPLETIONS_DIR}/dicomguard ${DG_COMPLETIONS_DIR}/_dicomguard
  COMMAND ${CMAKE_COMMAND} -DMODE=completions -DDG_BIN=$<TARGET_FILE:dicomguard> -DOUT=${DG_COMPLETIONS_DIR}
          -P ${DG_GEN_SCRIPT}
  DEPENDS dicomguard ${DG_GEN_SCRIPT}
  COMMENT "Writing the bash and zsh completions"
  VERBATIM)
add_custom_target(completions ${DG_ALL} DEPENDS ${DG_COMPLETIONS_DIR}/dicomguard ${DG_COMPLETIONS_DIR}/_dicomguard)
install(FILES ${DG_COMPLETIONS_DIR}/dicomguard DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${DG_COMPLETIONS_DIR}/_dicomguard DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

# ---------------------------------------------------------------- man pages: help2man on each subcommand's --help
set(DG_MAN_DIR ${CMAKE_BINARY_DIR}/man)
find_program(DG_HELP2MAN help2man)
if(DG_HELP2MAN)
  add_custom_command(
    OUTPUT ${DG_MAN_DIR}/.stamp
    COMMAND ${CMAKE_COMMAND} -DMODE=man -DDG_BIN=$<TARGET_FILE:dicomguard> -DOUT=${DG_MAN_DIR}
            -DWRAP=${CMAKE_BINARY_DIR}/man-wrap -DHELP2MAN=${DG_HELP2MAN} -P ${DG_GEN_SCRIPT}
    DEPENDS dicomguard ${DG_GEN_SCRIPT}
    COMMENT "Writing the man pages (help2man)"
    VERBATIM)
  add_custom_target(man ${DG_ALL} DEPENDS ${DG_MAN_DIR}/.stamp)
  install(DIRECTORY ${DG_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1.gz")
else()
  message(WARNING "help2man not found: no man pages will be built or installed (apt-get install help2man, or "
                  "scripts/setup-debian.sh, then re-run cmake)")
  add_custom_target(man
    COMMAND ${CMAKE_COMMAND} -E echo "man: help2man is not installed (apt-get install help2man, then re-run cmake)"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()

# ---------------------------------------------------------------- Debian package: `make deb` (cpack -G DEB)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dicomguard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "dicomguard maintainers <maintainers@users.noreply.b-seed-831e803d.example>")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${CPACK_PACKAGE_CONTACT})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "see and fix the security of a DICOM deployment")
# The summary is the Description line; this is the extended text below it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Finds DICOM services (DIMSE, DICOM-TLS, DICOMweb) and proves, without touching
patient data, what they let anyone do; grades their TLS; checks DICOM files for
executable and active content; de-identifies files; runs a small CA, a TLS
gateway for devices that cannot do TLS and an ATNA audit collector; writes a
one-page report. 'dicomguard demo' runs all of it on this machine only.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends: computed by dpkg-shlibdeps from the libraries the binary really links.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The binary runs no other program but Chromium ('report --pdf'); the README's gateway and TLS examples use
# DCMTK's storescp/storescu as the device.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "chromium, dcmtk")
# The RelWithDebInfo binary is ~144 MB with its debug information; the package ships it stripped.
set(CPACK_STRIP_FILES ON)
include(CPack)
