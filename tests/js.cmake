# The JavaScript client's tests (tests/js): js/ compiled with tsc, then node's test runner against a
# real `ax-engine serve`; npm installs js/'s pinned dev dependencies (package-lock.json) once.
find_program(AX_NODE node)
find_program(AX_NPM npm)
if(AX_NODE AND AX_NPM AND TARGET ax-engine)
  add_test(NAME js_client COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/js/run.sh $<TARGET_FILE:ax-engine>)
  set_tests_properties(js_client PROPERTIES LABELS js TIMEOUT 600)
endif()
