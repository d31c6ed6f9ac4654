# Unit tests of the standalone operations pieces: TLS, the admin HTTP parser and the
# Prometheus metrics writer. Each test compiles its module's source directly so it does
# not depend on the rest of battled_net / battled_util being buildable.
battled_add_test(NAME test_tls
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_tls.c ${CMAKE_SOURCE_DIR}/net/tls.c
                         ${CMAKE_SOURCE_DIR}/util/tls_util.c
                 LIBS battled_mbedtls LABELS unit TIMEOUT 120)
battled_add_test(NAME test_http
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_http.c ${CMAKE_SOURCE_DIR}/net/http.c
                 LABELS unit TIMEOUT 60)
battled_add_test(NAME test_metrics
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_metrics.c
                         ${CMAKE_SOURCE_DIR}/util/metrics.c
                 LIBS Threads::Threads LABELS unit TIMEOUT 60)

# The include check over docs/ARCHITECTURE.md's folder table (scripts/check-layers), and that it
# catches an include against the layers in a scratch tree.
add_test(NAME test_layers COMMAND ${CMAKE_SOURCE_DIR}/tests/unit/test_layers.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(test_layers PROPERTIES LABELS unit TIMEOUT 60)
