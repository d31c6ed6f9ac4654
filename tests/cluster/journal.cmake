# The Redis journal backend (owner: cluster) against a real redis-server that each test starts on
# a free loopback port (redis_harness.c). Label cluster: run by scripts/test in .ci/run's default
# stage; needs redis-server (scripts/bootstrap installs it).
battled_add_test(NAME test_cl_journal
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/cluster/test_cl_journal.c
                         ${CMAKE_SOURCE_DIR}/tests/cluster/redis_harness.c
                 LIBS battled_journal PkgConfig::HIREDIS Threads::Threads
                 LABELS cluster TIMEOUT 120)
# Runtime adoption of a failed node's journal (shards_adopt, owner: shards) on the Redis backend:
# the acknowledged-records wait, then resume and a restart on the adopting node's own prefix.
battled_add_test(NAME test_cl_adopt
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/cluster/test_cl_adopt.c
                         ${CMAKE_SOURCE_DIR}/tests/cluster/redis_harness.c
                 LIBS battled_shards PkgConfig::HIREDIS Threads::Threads
                 LABELS cluster TIMEOUT 120)
