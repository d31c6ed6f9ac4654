# libFuzzer target over the journal reader (record framing, checksum, body decoding, replay rules).
battled_add_fuzzer(NAME fuzz_journal
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_journal.c
                   LIBS battled_journal
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/journal)
