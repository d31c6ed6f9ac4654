# End-to-end tests of the real battled binary (tests/integration/itest.h explains the harness).
# Each binary runs twice: with one shard and with four, so routing by shard_of() is exercised both
# ways. Building a test builds battled too.
if(TARGET battled AND TARGET battled_client)
  foreach(t battle guard drain tls protocol)
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
                   LIBS battled_client PkgConfig::MSGPACK battled_mbedtls
                   LABELS stress TIMEOUT 240
                   ARGS $<TARGET_FILE:battled> --shards 4)
  add_dependencies(test_it_stress battled)

  # Issue 7: the suite also runs with TLS on. The same binaries with --tls (itest.h): a certificate
  # made once per run, the server's TLS port, every client through pc_connect_tls verifying it.
  # test_it_tls is TLS already. Skipped under TLS: guard's test_connection_cap, which expects the
  # clear-text "server_busy" frame; over TLS the server refuses an extra connection by closing it
  # before the handshake, without a frame (net/conn.c), and test_it_tls checks that instead.
  set(_skip_guard --skip test_connection_cap)
  foreach(t battle guard drain)
    set(_extra "")
    if(t STREQUAL "guard")
      set(_extra ${_skip_guard})
    endif()
    add_test(NAME test_it_${t}_tls COMMAND test_it_${t} $<TARGET_FILE:battled> --shards 1 --tls ${_extra})
    add_test(NAME test_it_${t}_tls_shards4
             COMMAND test_it_${t} $<TARGET_FILE:battled> --shards 4 --tls ${_extra})
    set_tests_properties(test_it_${t}_tls test_it_${t}_tls_shards4 PROPERTIES
                         LABELS integration TIMEOUT 120
                         ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
  # Issue 13: the same suites over WebSocket, ws:// and wss:// (itest.h's --ws): every message,
  # error and limit must hold unchanged. guard's tests of native length prefixes skip themselves.
  foreach(t battle guard drain)
    add_test(NAME test_it_${t}_ws COMMAND test_it_${t} $<TARGET_FILE:battled> --shards 2 --ws)
    add_test(NAME test_it_${t}_wss COMMAND test_it_${t} $<TARGET_FILE:battled> --shards 2 --ws --tls)
    set_tests_properties(test_it_${t}_ws test_it_${t}_wss PROPERTIES
                         LABELS integration TIMEOUT 120
                         ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
  # The WebSocket listener's own cases (hostile frames and requests, page files, per-address caps).
  battled_add_test(NAME test_it_ws
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_ws.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                   LIBS battled_client PkgConfig::MSGPACK battled_mbedtls Threads::Threads
                   LABELS integration TIMEOUT 180
                   ARGS $<TARGET_FILE:battled> --shards 2 --ws)
  add_dependencies(test_it_ws battled)
  add_test(NAME test_it_ws_tls COMMAND test_it_ws $<TARGET_FILE:battled> --shards 2 --ws --tls)
  set_tests_properties(test_it_ws_tls PROPERTIES LABELS integration TIMEOUT 180
                       ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  add_test(NAME test_it_stress_tls COMMAND test_it_stress $<TARGET_FILE:battled> --shards 4 --tls)
  set_tests_properties(test_it_stress_tls PROPERTIES LABELS stress TIMEOUT 240
                       ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif()

# Issue 12: SIGHUP reopens log.file and reloads the TLS pair (always over TLS).
if(TARGET battled AND TARGET battled_client)
  battled_add_test(NAME test_it_reload
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_reload.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                   LIBS battled_client PkgConfig::MSGPACK battled_mbedtls Threads::Threads
                   LABELS integration TIMEOUT 120
                   ARGS $<TARGET_FILE:battled> --shards 1)
  add_dependencies(test_it_reload battled)
endif()
