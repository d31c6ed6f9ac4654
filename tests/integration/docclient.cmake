# doc_client.py (owner: doc-client): an outside client written from docs/PROTOCOL.md alone, in Python
# with Debian's python3-msgpack, holding the server to every promise of that document (hello,
# battles solo and private to the end, matchmaking, spectators, resume/takeover/seq_gone, every
# error code with its rid/bid echoes, the limits, the check order, 64-bit ids, the drain). It starts
# its own battled processes on 127.0.0.1 port 0. Without python3-msgpack it exits 77 (skipped),
# except under CI=true where it fails. Debian's interpreter is preferred: python3-msgpack is
# installed for it, and a python3 earlier in PATH (pyenv, a venv) may not see it.
if(TARGET battled)
  find_program(BATTLED_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
  if(NOT BATTLED_PYTHON3)
    find_program(BATTLED_PYTHON3 NAMES python3)
  endif()
  if(BATTLED_PYTHON3)
    add_test(NAME test_it_doc_client
             COMMAND ${BATTLED_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/doc_client.py $<TARGET_FILE:battled>
                     ${CMAKE_SOURCE_DIR})
    set_tests_properties(test_it_doc_client PROPERTIES LABELS integration TIMEOUT 120
                         SKIP_RETURN_CODE 77)
  endif()
endif()
