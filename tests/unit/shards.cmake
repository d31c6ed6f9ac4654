# Tests of shards/: the rings (unit + a two-thread stress run) and the shard runtime.
battled_add_test(NAME test_ring SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_ring.c
                 LIBS battled_ck LABELS unit)
battled_add_test(NAME test_ring_stress SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_ring_stress.c
                 LIBS battled_ck PkgConfig::LIBUV Threads::Threads LABELS stress TIMEOUT 120)
battled_add_test(NAME test_shard SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_shard.c
                 LIBS battled_shards LABELS unit TIMEOUT 120)
battled_add_test(NAME test_shard_units SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_shard_units.c
                 LIBS battled_shards LABELS unit)
battled_add_test(NAME test_shard_stress SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_shard_stress.c
                 LIBS battled_shards LABELS stress TIMEOUT 300)
