# Unit tests of the network thread's pure parts (no sockets, no shards): built from their sources so
# they do not wait on the rest of battled_net.
battled_add_test(NAME test_net_units
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_net_units.c
                         ${CMAKE_SOURCE_DIR}/net/ratelimit.c ${CMAKE_SOURCE_DIR}/net/lobby.c
                         ${CMAKE_SOURCE_DIR}/net/conntab.c ${CMAKE_SOURCE_DIR}/net/outq.c
                 LIBS PkgConfig::LIBUV LABELS unit TIMEOUT 60)
