# Matchmaking across nodes (owner: cluster): three real battled nodes on one redis-server the test
# starts on a free loopback port; players queueing on different nodes are matched through Redis.
file(READ ${CMAKE_SOURCE_DIR}/app/main.c battled_main_c_match)
if(TARGET battled AND TARGET battled_client AND battled_main_c_match MATCHES "launch_run")
  battled_add_test(NAME test_cl_match
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/cluster/test_cl_match.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                           ${CMAKE_SOURCE_DIR}/tests/cluster/redis_harness.c
                           ${CMAKE_SOURCE_DIR}/tests/cluster/cl_view.c
                   LIBS battled_client PkgConfig::MSGPACK PkgConfig::HIREDIS Threads::Threads
                   LABELS cluster TIMEOUT 180
                   ARGS $<TARGET_FILE:battled> --shards 2)
  add_dependencies(test_cl_match battled)
  set_tests_properties(test_cl_match PROPERTIES RUN_SERIAL TRUE)
endif()
# Over TLS, the redirection case: a TLS client is sent to the other node's TLS port.
if(TARGET test_cl_match)
  add_test(NAME test_cl_match_tls
           COMMAND test_cl_match $<TARGET_FILE:battled> --shards 2 --tls --only test_two_nodes_matched)
  set_tests_properties(test_cl_match_tls PROPERTIES LABELS cluster TIMEOUT 120
                       ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif()
