# The engine against hostile input: the ship table loader, and arbitrary action
# streams (refused actions change nothing; replay reproduces the battle).
battled_add_fuzzer(NAME fuzz_ships SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_ships.c
                   LIBS battled_core
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/ships
                   DICT ${CMAKE_SOURCE_DIR}/tests/fuzz/dict/ships.dict)
battled_add_fuzzer(NAME fuzz_battle SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_battle.c
                   LIBS battled_core
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/battle)
