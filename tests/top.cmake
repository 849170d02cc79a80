# `ax-engine top` in a tmux pane against a real server under load (tests/cli/top_e2e.sh).
find_program(AX_TMUX tmux)
if(AX_TMUX AND TARGET ax-engine)
  add_test(NAME top_tmux COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/top_e2e.sh $<TARGET_FILE:ax-engine> ${CMAKE_SOURCE_DIR})
  set_tests_properties(top_tmux PROPERTIES LABELS cli TIMEOUT 180)
endif()
