# The node layer (owner: cluster): two real battled nodes register in a redis-server the test starts
# on a free loopback port; /cluster on the admin port lists them; a killed node expires.
file(READ ${CMAKE_SOURCE_DIR}/app/main.c battled_main_c_nodes)
if(TARGET battled AND TARGET battled_client AND battled_main_c_nodes MATCHES "launch_run")
  battled_add_test(NAME test_cl_nodes
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/cluster/test_cl_nodes.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                           ${CMAKE_SOURCE_DIR}/tests/cluster/redis_harness.c
                   LIBS battled_client PkgConfig::MSGPACK PkgConfig::HIREDIS Threads::Threads
                   LABELS cluster TIMEOUT 120
                   ARGS $<TARGET_FILE:battled> --shards 1)
  add_dependencies(test_cl_nodes battled)
endif()
