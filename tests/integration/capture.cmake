# The documented capture command (docs/PROTOCOL.md section 12) against the real server (owner:
# capture). This file has two roles:
# - included by tests/CMakeLists.txt: registers test_pc_trace (pc_set_trace, label unit) and
#   test_it_capture, which runs this same file in script mode (cmake -P);
# - in script mode: runs `scripts/capture-exchange BUILD_DIR` exactly as the doc says and checks
#   that the dump holds a whole solo battle in protocol order (hello, welcome, create, started, at
#   least one fire answered by an attack, ended as the last frame), each frame with its hex lines.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  # The client library's trace hook that proto_capture reads the wire through (no server needed).
  battled_add_test(NAME test_pc_trace SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_pc_trace.c
                   LIBS battled_client LABELS unit TIMEOUT 30)
  if(TARGET battled AND TARGET proto_capture)
    add_test(NAME test_it_capture
             COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DBUILD_DIR=${CMAKE_BINARY_DIR}
                     -P ${CMAKE_CURRENT_LIST_FILE})
    set_tests_properties(test_it_capture PROPERTIES LABELS integration TIMEOUT 120)
  endif()
  return()
endif()

if(NOT SOURCE_DIR OR NOT BUILD_DIR)
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=repo -DBUILD_DIR=build -P capture.cmake")
endif()

# The script bounds the battle to CAPTURE_TIMEOUT_S and each server step to 10 s; the outer
# TIMEOUT only guards against the script itself hanging.
set(ENV{CAPTURE_TIMEOUT_S} 60)
execute_process(COMMAND ${SOURCE_DIR}/scripts/capture-exchange ${BUILD_DIR}
                RESULT_VARIABLE rc OUTPUT_VARIABLE dump ERROR_VARIABLE err TIMEOUT 100)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "scripts/capture-exchange failed (${rc}):\n${err}\n--- stdout ---\n${dump}")
endif()

# Frame header lines ("C->S hello (34 bytes)  {...}"), in order.
string(REGEX MATCHALL "(^|\n)(C->S|S->C) [a-z_]+ \\([0-9]+ bytes\\)" headers "${dump}")
set(seq "")
foreach(h ${headers})
  string(REGEX REPLACE "^\n?((C->S|S->C) [a-z_]+) .*" "\\1" h "${h}")
  list(APPEND seq "${h}")
endforeach()
list(LENGTH seq n)
if(n LESS 7)
  message(FATAL_ERROR "too few frames (${n}) in the capture:\n${dump}\n${err}")
endif()

function(expect_at index what)
  list(GET seq ${index} got)
  if(NOT got STREQUAL what)
    message(FATAL_ERROR "frame ${index}: expected '${what}', got '${got}'; frames: ${seq}")
  endif()
endfunction()
expect_at(0 "C->S hello")
expect_at(1 "S->C welcome")
expect_at(2 "C->S create")
expect_at(3 "S->C started")
math(EXPR last "${n} - 1")
expect_at(${last} "S->C ended")
foreach(want "C->S fire" "S->C attack")
  list(FIND seq "${want}" at)
  if(at LESS 4)
    message(FATAL_ERROR "no '${want}' after started; frames: ${seq}")
  endif()
endforeach()
foreach(bad "undecodable" "<bad msgpack>")
  string(FIND "${dump}" "${bad}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the capture shows '${bad}':\n${dump}")
  endif()
endforeach()

# Every frame is followed by its hex lines, the first one starting with the length prefix.
string(REGEX MATCHALL "\n  0000  00 00 [0-9a-f][0-9a-f] [0-9a-f][0-9a-f] 8[0-9a-f] " firsts "${dump}")
list(LENGTH firsts nhex)
if(NOT nhex EQUAL n)
  message(FATAL_ERROR "${n} frames but ${nhex} hex dumps starting with a length prefix and a map")
endif()
string(FIND "${err}" "ended:" at)
if(at EQUAL -1)
  message(FATAL_ERROR "proto_capture did not report the battle's end:\n${err}")
endif()
message(STATUS "capture: ${n} frames, hello to ended")
