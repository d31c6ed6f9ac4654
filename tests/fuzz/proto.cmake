# libFuzzer targets over the wire protocol: frame reassembly and message decoding. The proto
# sources are compiled into each target (not linked from battled_proto) so that libFuzzer's
# coverage instrumentation, which the target's -fsanitize=fuzzer adds, covers them.
set(_proto_fuzz_src ${CMAKE_SOURCE_DIR}/proto/codec.c ${CMAKE_SOURCE_DIR}/proto/mp.c
    ${CMAKE_SOURCE_DIR}/proto/names.c ${CMAKE_SOURCE_DIR}/proto/frame.c)
battled_add_fuzzer(NAME fuzz_frame
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_frame.c ${_proto_fuzz_src}
                   LIBS PkgConfig::MSGPACK
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/frame
                   DICT ${CMAKE_SOURCE_DIR}/tests/fuzz/dict/msgpack.dict)
battled_add_fuzzer(NAME fuzz_msg
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_msg.c ${_proto_fuzz_src}
                   LIBS PkgConfig::MSGPACK
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/msg
                   DICT ${CMAKE_SOURCE_DIR}/tests/fuzz/dict/msgpack.dict)
