# util/'s TOML reader and logging, and app/'s configuration schema built on the reader.
battled_add_test(NAME test_toml SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_toml.c
                 LIBS battled_util LABELS unit TIMEOUT 60)
battled_add_test(NAME test_config SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c
                 LIBS battled_config LABELS unit TIMEOUT 60)
battled_add_test(NAME test_log SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_log.c
                 LIBS battled_util Threads::Threads LABELS unit TIMEOUT 60)
battled_add_test(NAME test_fifo SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_fifo.c
                 LIBS battled_util LABELS unit TIMEOUT 60)
