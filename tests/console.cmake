# The web console in headless Chromium (tests/console): Debian's chromium driven by puppeteer-core
# from npm, against a real `ax-engine serve`.
find_program(AX_NODE node)
find_program(AX_NPM npm)
find_program(AX_CHROMIUM chromium)
if(AX_NODE AND AX_NPM AND AX_CHROMIUM AND TARGET ax-engine)
  add_test(NAME console_chromium COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/node_tests.sh ${CMAKE_CURRENT_SOURCE_DIR}/console
           $<TARGET_FILE:ax-engine>)
  set_tests_properties(console_chromium PROPERTIES LABELS console TIMEOUT 600 ENVIRONMENT "AX_CHROMIUM=${AX_CHROMIUM}")
endif()
