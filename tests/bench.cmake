# End-to-end runs of `ax-engine bench speed` on the bundled stories260K (tiny, so fast): the JSON
# row, the tests after some context (--depth, as llama-bench -d), batched decode after each
# sequence's prompt, the kernel tier it reports, and the combinations that are refused.
set(AX_SHARED ${CMAKE_SOURCE_DIR}/../shared)
set(AX_STORIES ${AX_SHARED}/models/stories260K/stories260K.gguf)
add_test(NAME bench_speed_depth_json COMMAND ax-engine bench speed --model ${AX_STORIES} -p 32 -n 16 -d 100 -t 2 -r 1 --json)
set_tests_properties(bench_speed_depth_json PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "\"depth\": 100, \"prompt_tokens\": 32, \"gen_tokens\": 16, \"prefill_tokens_per_s\": [0-9.]+, \"decode_tokens_per_s\": [0-9.]+, \"ttft_ms\": [0-9.]+, \"weight_gb_per_s\": [0-9.]+.*\"peak_rss_mb\": [0-9.]+}")
add_test(NAME bench_speed_batched COMMAND ax-engine bench speed --model ${AX_STORIES} -p 24 -n 8 --batch 4 -t 2 -r 1)
set_tests_properties(bench_speed_batched PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "pp24 +[0-9.]+\ntg8x4 +[0-9.]+\ndecode floor")
# The kernel tier in use, here capped by AX_CPU_TIER (the scalar tier runs on every machine).
add_test(NAME bench_speed_prints_kernel_tier COMMAND ax-engine bench speed --model ${AX_STORIES} -p 16 -n 4 -t 2 -r 1)
set_tests_properties(bench_speed_prints_kernel_tier PROPERTIES LABELS cli ENVIRONMENT AX_CPU_TIER=scalar
  PASS_REGULAR_EXPRESSION "backend +cpu \\(scalar, 2 threads\\)\nkernels +scalar reference")
add_test(NAME bench_speed_json_kernel_tier COMMAND ax-engine bench speed --model ${AX_STORIES} -p 16 -n 4 -t 2 -r 1 --json)
set_tests_properties(bench_speed_json_kernel_tier PROPERTIES LABELS cli ENVIRONMENT AX_CPU_TIER=scalar
  PASS_REGULAR_EXPRESSION "\"backend\": \"cpu \\(scalar, 2 threads\\)\", \"kernel_tier\": \"scalar\", \"threads\": 2")
add_test(NAME bench_speed_unknown_tier_refused COMMAND ax-engine bench speed --model ${AX_STORIES} -p 16 -n 4 -t 2 -r 1)
set_tests_properties(bench_speed_unknown_tier_refused PROPERTIES LABELS cli ENVIRONMENT AX_CPU_TIER=avx3
  PASS_REGULAR_EXPRESSION "AX_CPU_TIER=avx3: expected one of scalar, avx2, avx2-vnni, avx512")
add_test(NAME bench_speed_depth_with_batch_refused COMMAND ax-engine bench speed --model ${AX_STORIES} -d 8 --batch 2)
set_tests_properties(bench_speed_depth_with_batch_refused PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "--depth is for one sequence")
add_test(NAME bench_speed_past_context_refused COMMAND ax-engine bench speed --model ${AX_STORIES} -p 32 -n 16 -d 3000)
set_tests_properties(bench_speed_past_context_refused PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "reach position 3032 but the model's context is 2048 tokens")

# ax_test_bench runs the real binary for its end-to-end tests (bench run in-process and --url).
if(TARGET ax_test_bench AND TARGET ax-engine)
  target_compile_definitions(ax_test_bench PRIVATE AX_ENGINE_BINARY="$<TARGET_FILE:ax-engine>")
  add_dependencies(ax_test_bench ax-engine)
endif()

# Every shipped manifest (bench/manifests/) runs in its small variant on the bundled models, with
# its own checks (bench run exits non-zero when one fails). A second or less each.
file(GLOB AX_BENCH_MANIFESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bench/manifests/*.json)
foreach(manifest ${AX_BENCH_MANIFESTS})
  get_filename_component(name ${manifest} NAME_WE)
  set(out ${CMAKE_BINARY_DIR}/bench-manifest-runs/${name})
  add_test(NAME bench_manifest_${name}
           COMMAND sh -c "rm -rf '${out}' && exec '$<TARGET_FILE:ax-engine>' bench run '${manifest}' --variant small --no-progress --out '${out}'")
  set_tests_properties(bench_manifest_${name} PROPERTIES LABELS cli TIMEOUT 120)
endforeach()
