# End-to-end tests of the real battled binary (tests/integration/itest.h explains the harness).
# Each binary runs twice: with one shard and with four, so routing by shard_of() is exercised both
# ways. Building a test builds battled too.
if(TARGET battled AND TARGET battled_client)
  foreach(t battle guard drain tls)
    battled_add_test(NAME test_it_${t}
                     SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_${t}.c
                             ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                     LIBS battled_client PkgConfig::MSGPACK battled_mbedtls Threads::Threads
                     LABELS integration TIMEOUT 120
                     ARGS $<TARGET_FILE:battled> --shards 1)
    add_dependencies(test_it_${t} battled)
    add_test(NAME test_it_${t}_shards4 COMMAND test_it_${t} $<TARGET_FILE:battled> --shards 4)
    set_tests_properties(test_it_${t}_shards4 PROPERTIES LABELS integration TIMEOUT 120
                         ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
  # Many battles at once on four shards; .ci/run runs label "stress" under ThreadSanitizer.
  battled_add_test(NAME test_it_stress
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_stress.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                   LIBS battled_client PkgConfig::MSGPACK
                   LABELS stress TIMEOUT 240
                   ARGS $<TARGET_FILE:battled> --shards 4)
  add_dependencies(test_it_stress battled)
endif()
