# The journal (shards/journal*.c, store_file.c, crc32c.c) is standalone: its tests build its
# sources directly instead of linking battled_shards, so they do not wait on the rest of shards/.
set(BATTLED_JOURNAL_SOURCES
    ${CMAKE_SOURCE_DIR}/shards/journal.c
    ${CMAKE_SOURCE_DIR}/shards/journal_read.c
    ${CMAKE_SOURCE_DIR}/shards/journal_codec.c
    ${CMAKE_SOURCE_DIR}/shards/store_file.c
    ${CMAKE_SOURCE_DIR}/shards/crc32c.c)
battled_add_test(NAME test_journal
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_journal.c ${BATTLED_JOURNAL_SOURCES}
                 LIBS Threads::Threads LABELS unit TIMEOUT 120)
battled_add_test(NAME test_journal_write
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_journal_write.c ${BATTLED_JOURNAL_SOURCES}
                 LIBS Threads::Threads LABELS unit TIMEOUT 120)
