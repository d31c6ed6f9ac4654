# Unit tests of the network thread's pure parts (no sockets, no shards): built from their sources so
# they do not wait on the rest of battled_net.
battled_add_test(NAME test_net_units
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_net_units.c
                         ${CMAKE_SOURCE_DIR}/net/ratelimit.c ${CMAKE_SOURCE_DIR}/net/lobby.c
                         ${CMAKE_SOURCE_DIR}/net/conntab.c ${CMAKE_SOURCE_DIR}/net/outq.c
                         ${CMAKE_SOURCE_DIR}/net/fdlimit.c ${CMAKE_SOURCE_DIR}/net/idtag.c
                 LIBS PkgConfig::LIBUV battled_util battled_proto LABELS unit TIMEOUT 60)

# The two tests below start the whole server in-process on 127.0.0.1 and talk to it over sockets:
# integration tests by what they run (label integration), kept here beside their sources.
# No allocation per message in the steady state: the real server in-process, its allocations
# counted through -Wl,--wrap, the client in a forked child (see the test's header comment).
if(TARGET battled_client)
  battled_add_test(NAME test_net_nomalloc
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_net_nomalloc.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                   LIBS battled_app battled_client LABELS integration TIMEOUT 120)
  target_link_options(test_net_nomalloc PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc
                      -Wl,--wrap=realloc)
  # The same through the WebSocket listener (issue 13): framing allocates nothing per message either.
  add_test(NAME test_net_nomalloc_ws COMMAND test_net_nomalloc --ws)
  set_tests_properties(test_net_nomalloc_ws PROPERTIES LABELS integration TIMEOUT 120
                       ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif()

# The network thread's counters, with the server in-process and a blocking client.
if(TARGET battled_client)
  battled_add_test(NAME test_net_stats
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_net_stats.c
                           ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                   LIBS battled_app battled_client LABELS integration TIMEOUT 60)
endif()

# WebSocket (net/ws_*.c: handshake, framing over wslay, static files) and the per-address caps
# (net/addrcap.c), built from their sources like test_net_units.
battled_add_test(NAME test_ws
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_ws.c
                         ${CMAKE_SOURCE_DIR}/net/ws_frame.c ${CMAKE_SOURCE_DIR}/net/ws_handshake.c
                         ${CMAKE_SOURCE_DIR}/net/ws_static.c ${CMAKE_SOURCE_DIR}/net/http.c
                         ${CMAKE_SOURCE_DIR}/net/addrcap.c
                 LIBS battled_util battled_mbedtls battled_wslay LABELS unit TIMEOUT 60)
