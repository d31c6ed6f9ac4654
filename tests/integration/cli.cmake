# battle-cli against the real server (owner: cli). Needs both programs; skipped until they exist.
if(TARGET battle-cli AND TARGET battled)
  battled_add_test(NAME test_it_cli
    SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_cli.c
            ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
    LIBS battled_cli battled_client Threads::Threads
    LABELS integration TIMEOUT 300
    ARGS $<TARGET_FILE:battled> --cli $<TARGET_FILE:battle-cli> --shards 1)
endif()
