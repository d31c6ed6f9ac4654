# End-to-end tests of the admin HTTP endpoint (net/admin.h) on the real battled binary, with one
# shard and with four. test_it_admin checks /metrics with promtool (Debian's prometheus package):
# without it the check is skipped, except under CI=true where it fails.
# test_it_fdlimit (issue 16): the connection cap against a lowered open-file limit (net/fdlimit.h):
# battled starts with RLIMIT_NOFILE set low in the child (as prlimit --nofile would), lowers
# server.max_connections with a warning, refuses and counts connections past it, and /healthz and
# /metrics still answer.
if(TARGET battled AND TARGET battled_client)
  foreach(t admin fdlimit)
    battled_add_test(NAME test_it_${t}
                     SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_${t}.c
                             ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                     LIBS battled_client PkgConfig::MSGPACK PkgConfig::LIBUV battled_mbedtls
                          Threads::Threads
                     LABELS integration TIMEOUT 180
                     ARGS $<TARGET_FILE:battled> --shards 1)
    add_dependencies(test_it_${t} battled)
    add_test(NAME test_it_${t}_shards4 COMMAND test_it_${t} $<TARGET_FILE:battled> --shards 4)
    set_tests_properties(test_it_${t}_shards4 PROPERTIES LABELS integration TIMEOUT 180
                         ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
endif()

# The admin listener on a bare server struct with simulated shards (stuck shards, late listings):
# paths the real binary's shards are too quick to reach.
battled_add_test(NAME test_it_admin_probe
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_admin_probe.c
                 LIBS battled_net LABELS integration TIMEOUT 60)

