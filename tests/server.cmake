# The server's tests run the real binary: ax_test_server needs ax-engine built and its path; the
# openai-SDK tests (tests/server_js) run under node with the SDK installed by npm.
if(TARGET ax_test_server AND TARGET ax-engine)
  target_compile_definitions(ax_test_server PRIVATE AX_ENGINE_BINARY="$<TARGET_FILE:ax-engine>")
  add_dependencies(ax_test_server ax-engine)
endif()

find_program(AX_NODE node)
find_program(AX_NPM npm)
if(AX_NODE AND AX_NPM AND TARGET ax-engine)
  add_test(NAME server_js_openai_sdk
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/node_tests.sh ${CMAKE_CURRENT_SOURCE_DIR}/server_js $<TARGET_FILE:ax-engine>)
  set_tests_properties(server_js_openai_sdk PROPERTIES LABELS server TIMEOUT 600)
endif()
