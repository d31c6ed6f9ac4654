# Persistence of the shards (owner: persist): the journal payload codec and recovery through the
# shard runtime's API (restart, reshard, resume, torn tail, damage, a file-size limit).
battled_add_test(NAME test_persist SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_persist.c
                 LIBS battled_shards LABELS unit TIMEOUT 120)
# Recovery time: 2,000 battles in the unit run; 100,000 under the stress label (the figure in
# docs/BENCHMARKS.md, "Persistence").
battled_add_test(NAME test_persist_recovery SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_persist_recovery.c
                 LIBS battled_shards LABELS unit TIMEOUT 120)
add_test(NAME test_persist_recovery_100k COMMAND test_persist_recovery 100000)
set_tests_properties(test_persist_recovery_100k PROPERTIES LABELS stress TIMEOUT 600)
# Runtime adoption of a failed node's journal (shards_adopt, cluster failover).
battled_add_test(NAME test_adopt SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_adopt.c
                 LIBS battled_shards Threads::Threads LABELS unit TIMEOUT 120)
