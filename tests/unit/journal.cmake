# The journal library (journal/): record format, writer, reader, compaction, file backend.
battled_add_test(NAME test_journal
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_journal.c
                 LIBS battled_journal LABELS unit TIMEOUT 120)
battled_add_test(NAME test_journal_write
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_journal_write.c
                 LIBS battled_journal LABELS unit TIMEOUT 120)
