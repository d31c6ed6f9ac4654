# fuzz_ws: the WebSocket integration (net/ws_frame.c over wslay, net/ws_handshake.c on net/http.c),
# compiled in directly like fuzz_http so the target does not need the rest of battled_net.
battled_add_fuzzer(NAME fuzz_ws
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_ws.c ${CMAKE_SOURCE_DIR}/net/ws_frame.c
                           ${CMAKE_SOURCE_DIR}/net/ws_handshake.c ${CMAKE_SOURCE_DIR}/net/http.c
                   LIBS battled_mbedtls battled_wslay
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/ws)
