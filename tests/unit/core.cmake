# Unit tests of the battle engine (core/). BATTLED_TEST_SCALE (env, default 1)
# scales the random-battle counts of test_core_random (e.g. 0.1 under ASan).
battled_add_test(NAME test_core_rules
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_core_rules.c
                 LIBS battled_core LABELS unit TIMEOUT 60)
battled_add_test(NAME test_core_ships
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_core_ships.c
                 LIBS battled_core LABELS unit TIMEOUT 60)
battled_add_test(NAME test_core_random
                 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_core_random.c
                 LIBS battled_core LABELS unit TIMEOUT 300)
