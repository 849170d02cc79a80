# End-to-end runs of `ax-engine generate`: the README's first command on the bundled default model
# (greedy, so the story is the known one), a sharded HF folder, and a rejected parameter.
add_test(NAME generate_default_model
  COMMAND ax-engine generate --prompt "Once upon a time" --max-tokens 40 --temperature 0)
set_tests_properties(generate_default_model PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "Once upon a time, there was a little girl named Lily\\. She loved to play outside in the park\\..*prompt: 5 tokens, [0-9.]+ tokens/s \\| generated: 40 tokens, [0-9.]+ tokens/s")
add_test(NAME generate_hf_folder
  COMMAND ax-engine generate --model ${CMAKE_SOURCE_DIR}/models/ax-code-15m --prompt "import os" --max-tokens 12 --temperature 0.7 --top-k 20 --seed 7 --threads 2)
set_tests_properties(generate_hf_folder PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "^import os.*prompt: 2 tokens, [0-9.]+ tokens/s \\| generated: 12 tokens")
add_test(NAME generate_rejects_bad_top_p COMMAND ax-engine generate --prompt "x" --top-p 0)
set_tests_properties(generate_rejects_bad_top_p PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "error: sampling: top_p 0 must be in \\(0, 1\\]")
