# util/: the TOML reader, config (built on it), logging.
battled_add_test(NAME test_toml SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_toml.c
                 LIBS battled_util LABELS unit TIMEOUT 60)
battled_add_test(NAME test_config SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c
                 LIBS battled_util LABELS unit TIMEOUT 60)
battled_add_test(NAME test_log SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_log.c
                 LIBS battled_util Threads::Threads LABELS unit TIMEOUT 60)
