# battle-cli's command parser and event view against hostile input (owner: cli).
if(TARGET battled_cli)
  battled_add_fuzzer(NAME fuzz_cli SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_cli.c
                     LIBS battled_cli
                     CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/cli)
endif()
