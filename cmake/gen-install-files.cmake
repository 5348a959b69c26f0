# Run at build time by cmake/install.cmake: cmake -DMODE=completions|man -DDG_BIN=... -DOUT=... -P this file.
# MODE=man also needs -DHELP2MAN=... and -DWRAP=<folder for the per-subcommand wrappers>.
cmake_minimum_required(VERSION 3.25)
file(MAKE_DIRECTORY ${OUT})

function(run_dg out_var)
  execute_process(COMMAND ${DG_BIN} ${ARGN} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " args "${ARGN}")
    message(FATAL_ERROR "${DG_BIN} ${args} failed (${rc})")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "completions")
  run_dg(bash completion bash)
  run_dg(zsh completion zsh)
  file(WRITE ${OUT}/dicomguard "${bash}")
  file(WRITE ${OUT}/_dicomguard "${zsh}")
  return()
endif()

if(NOT MODE STREQUAL "man")
  message(FATAL_ERROR "MODE must be completions or man")
endif()

# help2man runs PROGRAM --help and PROGRAM --version. For a subcommand, PROGRAM is a wrapper named
# dicomguard-SUB that answers --help with 'dicomguard SUB --help' and --version with 'dicomguard-SUB VERSION'.
run_dg(version --version)
string(STRIP "${version}" version)
string(REGEX REPLACE "^dicomguard " "" number "${version}")
run_dg(commands completion commands --all)
string(STRIP "${commands}" commands)
string(REPLACE "\n" ";" commands "${commands}")

file(GLOB stale ${OUT}/*.1 ${OUT}/*.1.gz)
if(stale)
  file(REMOVE ${stale})
endif()
file(MAKE_DIRECTORY ${WRAP})

set(see_also "")
foreach(c ${commands})
  string(REPLACE " " "-" page "dicomguard-${c}")
  string(APPEND see_also ".BR ${page} (1)\n")
endforeach()

# NAME: the first line of the help (CLI11 prints the description, then "Usage:").
function(page name help_cmd description_cmd include_text)
  run_dg(help ${description_cmd} --help)
  string(REGEX REPLACE "\n.*" "" desc "${help}")
  string(REGEX REPLACE "^dicomguard: " "" desc "${desc}")
  string(REGEX REPLACE "^Usage:.*" "" desc "${desc}")
  file(WRITE ${WRAP}/${name}.include "${include_text}")
  execute_process(COMMAND ${HELP2MAN} --no-info --section=1 "--name=${desc}" --include=${WRAP}/${name}.include
                          --output=${OUT}/${name}.1 ${help_cmd}
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "help2man ${name}: ${err}")
  endif()
  # Compressed as Debian's policy wants them (gzip -9n: no name or time stamp inside); man reads them as they are.
  execute_process(COMMAND gzip -9nf ${OUT}/${name}.1 RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${OUT}/${name}.1 failed")
  endif()
endfunction()

page(dicomguard ${DG_BIN} "" "[SEE ALSO]\n${see_also}")
foreach(c ${commands})
  string(REPLACE " " "-" name "dicomguard-${c}")
  string(REPLACE " " ";" args "${c}")
  file(WRITE ${WRAP}/${name}
       "#!/bin/sh\ncase \"$1\" in\n  --version) echo '${name} ${number}' ;;\n  *) exec '${DG_BIN}' ${c} --help ;;\nesac\n")
  file(CHMOD ${WRAP}/${name} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ
       WORLD_EXECUTE)
  page(${name} ${WRAP}/${name} "${args}" "[SEE ALSO]\n.BR dicomguard (1)\n")
endforeach()
file(WRITE ${OUT}/.stamp "${version}\n")
