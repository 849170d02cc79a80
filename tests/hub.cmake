# ax_test_hub's end-to-end tests run the real binary (pull, list, rm, generate --model owner/name)
# against a fake hub.
if(TARGET ax_test_hub AND TARGET ax-engine)
  target_compile_definitions(ax_test_hub PRIVATE AX_ENGINE_BINARY="$<TARGET_FILE:ax-engine>")
  add_dependencies(ax_test_hub ax-engine)
endif()
