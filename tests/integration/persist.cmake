# Persistence end to end (owner: persist): SIGKILL the real battled in the middle of many battles,
# restart it (also with another shard count) and check every unfinished battle is back as it was;
# torn tail, damage in the middle, and a file-size limit on the server process. Registered once
# battled's main runs the server, like net.cmake's tests.
file(READ ${CMAKE_SOURCE_DIR}/app/main.c battled_main_c_persist)
if(TARGET battled AND TARGET battled_client AND battled_main_c_persist MATCHES "launch_run")
  battled_add_test(NAME test_it_persist
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_persist.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                           ${CMAKE_SOURCE_DIR}/tests/cluster/redis_harness.c
                   LIBS battled_client PkgConfig::MSGPACK PkgConfig::HIREDIS Threads::Threads
                   LABELS integration TIMEOUT 240
                   ARGS $<TARGET_FILE:battled> --shards 1)
  add_dependencies(test_it_persist battled)
  add_test(NAME test_it_persist_shards4 COMMAND test_it_persist $<TARGET_FILE:battled> --shards 4)
  set_tests_properties(test_it_persist_shards4 PROPERTIES LABELS integration TIMEOUT 240
                       ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif()

# Planned restarts (issue 12): SIGTERM with server.on_sigterm = "restart" keeps every battle; the
# players resume after the restart (also with another shard count, and during a compaction).
if(TARGET battled AND TARGET battled_client AND TARGET battle-bench AND TARGET battle-cli AND
   battled_main_c_persist MATCHES "launch_run")
  battled_add_test(NAME test_it_restart
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_it_restart.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                   LIBS battled_client PkgConfig::MSGPACK Threads::Threads
                   LABELS integration TIMEOUT 300
                   ARGS $<TARGET_FILE:battled> --bench $<TARGET_FILE:battle-bench>
                        --cli $<TARGET_FILE:battle-cli> --shards 1)
  add_dependencies(test_it_restart battled battle-bench battle-cli)
  add_test(NAME test_it_restart_shards4 COMMAND test_it_restart $<TARGET_FILE:battled>
           --bench $<TARGET_FILE:battle-bench> --cli $<TARGET_FILE:battle-cli> --shards 4)
  set_tests_properties(test_it_restart_shards4 PROPERTIES LABELS integration TIMEOUT 300
                       ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  # Each runs hundreds of battles through a server, battle-bench and battle-cli across a restart:
  # alone, so that two of them (or a neighbour) sharing two cores never decide their timing.
  set_tests_properties(test_it_restart test_it_restart_shards4 PROPERTIES RUN_SERIAL TRUE)
endif()
