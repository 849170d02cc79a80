# End-to-end runs of `ax-engine chat` with stdin piped (the cases are described in the script):
# two turns with the bundled ax-code-15m, /reset and /exit, and a model without a chat template.
foreach(case two-turns reset-exit no-template)
  add_test(NAME chat_${case}
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/chat_e2e.sh $<TARGET_FILE:ax-engine> ${CMAKE_SOURCE_DIR} ${case})
  set_tests_properties(chat_${case} PROPERTIES LABELS cli TIMEOUT 120)
endforeach()
