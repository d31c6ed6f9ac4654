# The web client (web/) in headless Chromium against the real battled (tests/browser/run.sh, node's
# test runner + puppeteer-core). Label "browser". Screenshots of each screen are kept in
# BUILD/browser-artifacts/. Skipped (ctest "Not Run", exit 77) when node, chromium or node_modules
# is missing, unless CI=true. .ci/run runs this label in the default stage only (see there).
if(TARGET battled)
  add_test(NAME test_browser
           COMMAND ${CMAKE_SOURCE_DIR}/tests/browser/run.sh $<TARGET_FILE:battled>
                   ${CMAKE_BINARY_DIR}/browser-artifacts)
  set_tests_properties(test_browser PROPERTIES LABELS browser TIMEOUT 600 SKIP_RETURN_CODE 77
                       RUN_SERIAL TRUE)
endif()
