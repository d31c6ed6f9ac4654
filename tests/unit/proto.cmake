# proto: codec, frame reader, allocation bounds, client library.
set(_proto_samples ${CMAKE_SOURCE_DIR}/proto/tools/samples.c)
battled_add_test(NAME test_proto_codec
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proto_codec.c ${_proto_samples}
  LIBS battled_proto LABELS unit TIMEOUT 60)
battled_add_test(NAME test_proto_frame
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proto_frame.c ${_proto_samples}
  LIBS battled_proto LABELS unit TIMEOUT 60)
# Counts every malloc/calloc/realloc made by proto code (link-time --wrap), so "decoding allocates
# nothing" and "a hostile header allocates nothing" are asserted, not assumed.
battled_add_test(NAME test_proto_alloc
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proto_alloc.c ${_proto_samples}
  LIBS battled_proto LABELS unit TIMEOUT 60)
target_link_options(test_proto_alloc PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=free)
battled_add_test(NAME test_proto_client
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proto_client.c ${_proto_samples}
  LIBS battled_client LABELS unit TIMEOUT 60)
