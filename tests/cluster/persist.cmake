# Persistence end to end on the Redis backend (owner: cluster): test_it_persist's SIGKILL tests
# (kill -9 the real battled mid-battle, restart, every unfinished battle back, players resume by
# token and play to the end; also with another shard count) with persistence.backend=redis
# against a redis-server the test starts on a free loopback port (the same binary as
# integration/persist.cmake's test_it_persist, run with BATTLED_TEST_REDIS=1).
file(READ ${CMAKE_SOURCE_DIR}/app/main.c battled_main_c_cluster)
if(TARGET battled AND TARGET battled_client AND battled_main_c_cluster MATCHES "launch_run")
  foreach(n 1 4)
    add_test(NAME test_cl_persist_shards${n}
             COMMAND test_it_persist $<TARGET_FILE:battled> --shards ${n})
    set_tests_properties(test_cl_persist_shards${n} PROPERTIES LABELS cluster TIMEOUT 240
                         ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR};BATTLED_TEST_REDIS=1")
  endforeach()
endif()
