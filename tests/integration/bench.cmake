# battle-bench (bench/): unit tests of its histogram and scripted player, and a smoke test that runs
# the real bench against the real server (owner: bench).
if(TARGET battled_bench)
  battled_add_test(NAME test_bench_units
                   SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_bench_units.c
                   LIBS battled_bench LABELS unit TIMEOUT 60)
  if(TARGET battled AND TARGET battle-bench)
    battled_add_test(NAME test_bench_smoke
                     SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_bench_smoke.c
                             ${CMAKE_SOURCE_DIR}/tests/integration/itest.c
                     LIBS battled_client PkgConfig::MSGPACK
                     LABELS integration TIMEOUT 180
                     ARGS $<TARGET_FILE:battled> --bench $<TARGET_FILE:battle-bench> --shards 2)
    add_dependencies(test_bench_smoke battled battle-bench)
  endif()
endif()
