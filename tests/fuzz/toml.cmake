# The TOML reader (and the config loader on top of it) against hostile input.
battled_add_fuzzer(NAME fuzz_toml SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_toml.c
                   LIBS battled_config
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/toml
                   DICT ${CMAKE_SOURCE_DIR}/tests/fuzz/dict/toml.dict)
