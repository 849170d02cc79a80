# End-to-end runs of `ax-engine tokenize` on a vocabulary-only GGUF, an HF folder and the default
# model; the expected ids are the llama.cpp test vectors / fixture ids for the same text.
set(AX_VOCAB ${CMAKE_SOURCE_DIR}/../shared/models/llamacpp-vocab)
add_test(NAME tokenize_vocab_only_gguf COMMAND ax-engine tokenize --json --no-special
  --model ${AX_VOCAB}/ggml-vocab-qwen2.gguf --text "Hello, world!")
set_tests_properties(tokenize_vocab_only_gguf PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "^{\"ids\":\\[9707,11,1879,0\\],\"pieces\":\\[\"Hello\",\",\",\"Ġworld\",\"!\"\\]}")
add_test(NAME tokenize_spm_bos COMMAND ax-engine tokenize
  --model ${AX_VOCAB}/ggml-vocab-llama-spm.gguf --text "Hello world")
set_tests_properties(tokenize_spm_bos PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  " +1  <s> +'<s>'\n +15043  ▁Hello +' Hello'\n +3186  ▁world +' world'\n3 tokens \\(spm\\)")
add_test(NAME tokenize_hf_folder COMMAND ax-engine tokenize --json
  --model ${CMAKE_SOURCE_DIR}/../shared/models/qwen3-tokenizer --text "<|im_start|>user<think>")
set_tests_properties(tokenize_hf_folder PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "\"ids\":\\[151644,872,151667\\]")
add_test(NAME tokenize_invalid_utf8 COMMAND ax-engine tokenize --model ${AX_VOCAB}/ggml-vocab-gpt-2.gguf
  --text-file ${CMAKE_SOURCE_DIR}/tests/tokenizer/data/invalid_utf8.txt)
set_tests_properties(tokenize_invalid_utf8 PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "error: text to tokenize is not valid UTF-8 \\(byte 3 of 12: 0xFF\\)")
