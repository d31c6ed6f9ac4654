# libFuzzer target over what a cluster node reads back from Redis: registry values
# (cluster/nodeval.c) and incarnation records (cluster/increc.c, RESP bytes through hiredis's
# reader). Only the two parsers are compiled in, not the node's thread or its Redis connection.
battled_add_fuzzer(NAME fuzz_cluster
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_cluster.c
                           ${CMAKE_SOURCE_DIR}/cluster/nodeval.c ${CMAKE_SOURCE_DIR}/cluster/increc.c
                   LIBS PkgConfig::HIREDIS
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/cluster)
