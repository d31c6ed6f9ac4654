# fuzz_http: the admin listener's HTTP request parser (net/http.c, compiled in directly
# so the target does not need the rest of battled_net).
battled_add_fuzzer(NAME fuzz_http
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_http.c ${CMAKE_SOURCE_DIR}/net/http.c
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/http)
