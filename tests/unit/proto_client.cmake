# proto client library over TLS (owner: tlsclient): pc_connect_tls and pcuv_opts.tls against an
# in-process mbedTLS server thread, with certificates made at test time.
battled_add_test(NAME test_proto_client_tls
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proto_client_tls.c ${CMAKE_SOURCE_DIR}/proto/tools/samples.c
  LIBS battled_client battled_mbedtls Threads::Threads LABELS unit TIMEOUT 60)

# The client-side battle tracker (proto/client/tracker) that cli, bench and the integration tests
# share: event sequences in, the followed battle's state checked.
battled_add_test(NAME test_proto_tracker SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proto_tracker.c
                 LIBS battled_tracker LABELS unit TIMEOUT 30)

# Reconnection backoff with jitter (proto/client/backoff) that battle-cli and battle-bench use.
battled_add_test(NAME test_proto_backoff SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proto_backoff.c
                 LIBS battled_client LABELS unit TIMEOUT 30)
