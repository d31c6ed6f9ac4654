# Failover (owner: cluster): three real battled nodes on one redis-server the test starts on a free
# loopback port; battles spread with moved replies, kill -9 / SIGTERM / SIGSTOP of a node, its
# battles taken over by a survivor and played to the end.
file(READ ${CMAKE_SOURCE_DIR}/app/main.c battled_main_c_failover)
if(TARGET battled AND TARGET battled_client AND battled_main_c_failover MATCHES "launch_run")
  battled_add_test(NAME test_cl_failover
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/cluster/test_cl_failover.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                           ${CMAKE_SOURCE_DIR}/tests/cluster/redis_harness.c
                           ${CMAKE_SOURCE_DIR}/tests/cluster/cl_view.c
                   LIBS battled_client PkgConfig::MSGPACK PkgConfig::HIREDIS Threads::Threads
                   LABELS cluster TIMEOUT 300
                   ARGS $<TARGET_FILE:battled> --shards 2)
  add_dependencies(test_cl_failover battled)
  set_tests_properties(test_cl_failover PROPERTIES RUN_SERIAL TRUE)
endif()
# The same over TLS, for the redirections only: a TLS client is sent to the holder's TLS port.
if(TARGET test_cl_failover)
  add_test(NAME test_cl_failover_tls
           COMMAND test_cl_failover $<TARGET_FILE:battled> --shards 2 --tls
                   --only test_battles_spread_and_moved)
  set_tests_properties(test_cl_failover_tls PROPERTIES LABELS cluster TIMEOUT 120
                       ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif()
