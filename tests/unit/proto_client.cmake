# proto client library over TLS (owner: tlsclient): pc_connect_tls and pcuv_opts.tls against an
# in-process mbedTLS server thread, with certificates made at test time.
battled_add_test(NAME test_proto_client_tls
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proto_client_tls.c ${CMAKE_SOURCE_DIR}/proto/tools/samples.c
  LIBS battled_client battled_mbedtls Threads::Threads LABELS unit TIMEOUT 60)
