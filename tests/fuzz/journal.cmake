# libFuzzer target over the journal reader (record framing, checksum, body decoding, replay rules).
battled_add_fuzzer(NAME fuzz_journal
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_journal.c
                           ${CMAKE_SOURCE_DIR}/shards/journal_read.c
                           ${CMAKE_SOURCE_DIR}/shards/journal_codec.c
                           ${CMAKE_SOURCE_DIR}/shards/store_file.c
                           ${CMAKE_SOURCE_DIR}/shards/crc32c.c
                   LIBS Threads::Threads
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/journal)
