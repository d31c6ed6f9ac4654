# Shared build settings: warnings, sanitizers, dependency discovery and the
# helpers every module uses to register tests and fuzz targets.

add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wno-unused-parameter -D_GNU_SOURCE)
if(BATTLED_WERROR)
  add_compile_options(-Werror)
endif()

if(BATTLED_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions(BATTLED_ASAN=1)
elseif(BATTLED_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  # Rings switch from ck_ring to C11 atomics so TSan sees real happens-before edges.
  add_compile_definitions(BATTLED_TSAN=1)
elseif(NOT BATTLED_SANITIZE STREQUAL "")
  message(FATAL_ERROR "BATTLED_SANITIZE must be '', address or thread")
endif()

if(BATTLED_FUZZ AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "BATTLED_FUZZ needs clang: configure with CC=clang")
endif()
if(BATTLED_FUZZ)
  # Coverage instrumentation for every library the targets link, not only the
  # target files: without it libFuzzer explores blind.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(MSGPACK REQUIRED IMPORTED_TARGET msgpack)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
# hiredis (Debian's libhiredis-dev): the Redis journal backend, shards/store_redis.c.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)

# concurrencykit ships no pkg-config file in Debian 12.
find_path(CK_INCLUDE_DIR ck_ring.h REQUIRED)
find_library(CK_LIBRARY ck REQUIRED)
add_library(battled_ck INTERFACE)
target_include_directories(battled_ck INTERFACE ${CK_INCLUDE_DIR})
target_link_libraries(battled_ck INTERFACE ${CK_LIBRARY})

# mbedTLS 2.28 in Debian 12 has no pkg-config file: find its three libraries.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
find_library(MBEDTLS_LIBRARY mbedtls REQUIRED)
find_library(MBEDX509_LIBRARY mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
add_library(battled_mbedtls INTERFACE)
target_include_directories(battled_mbedtls INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(battled_mbedtls INTERFACE ${MBEDTLS_LIBRARY} ${MBEDX509_LIBRARY}
                      ${MBEDCRYPTO_LIBRARY})

# wslay (WebSocket framing, net/ws_frame.c): Debian 12's libwslay-dev ships a CMake package but no
# pkg-config file, so it is found like mbedTLS.
find_path(WSLAY_INCLUDE_DIR wslay/wslay.h REQUIRED)
find_library(WSLAY_LIBRARY wslay REQUIRED)
add_library(battled_wslay INTERFACE)
target_include_directories(battled_wslay INTERFACE ${WSLAY_INCLUDE_DIR})
target_link_libraries(battled_wslay INTERFACE ${WSLAY_LIBRARY})

# battled_add_test(NAME n SOURCES a.c b.c LIBS l1 l2 LABELS unit [TIMEOUT s] [ARGS ...])
# Builds one cmocka (or plain) test binary and registers it with ctest.
function(battled_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  target_include_directories(${T_NAME} PRIVATE ${CMAKE_SOURCE_DIR})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       ENVIRONMENT "BATTLED_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()

# battled_add_fuzzer(NAME n SOURCES f.c LIBS l CORPUS dir [DICT file])
# With BATTLED_FUZZ=ON this is a libFuzzer binary (run: n CORPUS -max_total_time=60).
# Without it, the same LLVMFuzzerTestOneInput is linked to tests/fuzz/replay_main.c
# and ctest replays every file of the seed corpus through it (label fuzz), so the
# corpus is a regression suite in every build, sanitizer builds included.
function(battled_add_fuzzer)
  cmake_parse_arguments(F "" "NAME;CORPUS;DICT" "SOURCES;LIBS" ${ARGN})
  if(BATTLED_FUZZ)
    add_executable(${F_NAME} ${F_SOURCES})
    target_compile_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${F_NAME} ${F_SOURCES} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  endif()
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  target_include_directories(${F_NAME} PRIVATE ${CMAKE_SOURCE_DIR})
  if(NOT BATTLED_FUZZ)
    add_test(NAME ${F_NAME}_corpus COMMAND ${F_NAME} ${F_CORPUS})
    set_tests_properties(${F_NAME}_corpus PROPERTIES LABELS "fuzz" TIMEOUT 300)
  endif()
  set_property(GLOBAL APPEND PROPERTY BATTLED_FUZZERS "${F_NAME}|${F_CORPUS}|${F_DICT}")
endfunction()

# battled_module(NAME lib DIR dir [EXCLUDE f.c ...] DEPS ...)
# A static library of every .c file in dir (an INTERFACE library while the folder
# has none yet), with the repo root on the include path so headers are included
# as "core/battle.h".
function(battled_module)
  cmake_parse_arguments(M "" "NAME;DIR" "EXCLUDE;DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${M_DIR}/*.c)
  foreach(x ${M_EXCLUDE})
    list(REMOVE_ITEM srcs ${M_DIR}/${x})
  endforeach()
  if(srcs)
    add_library(${M_NAME} STATIC ${srcs})
    target_include_directories(${M_NAME} PUBLIC ${CMAKE_SOURCE_DIR})
    target_link_libraries(${M_NAME} PUBLIC ${M_DEPS})
  else()
    add_library(${M_NAME} INTERFACE)
    target_include_directories(${M_NAME} INTERFACE ${CMAKE_SOURCE_DIR})
    target_link_libraries(${M_NAME} INTERFACE ${M_DEPS})
  endif()
endfunction()
