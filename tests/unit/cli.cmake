# battle-cli's parser, view and resume record (owner: cli). Skipped until cli/ is built.
if(TARGET battled_cli)
  battled_add_test(NAME test_cli SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_cli.c
                   LIBS battled_cli LABELS unit TIMEOUT 30)
endif()
