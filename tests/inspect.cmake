# End-to-end runs of `ax-engine inspect` on a GGUF, a sharded HF folder and a file the engine
# cannot load (it must still be described, not fail).
set(AX_SHARED ${CMAKE_SOURCE_DIR}/../shared)
add_test(NAME inspect_gguf COMMAND ax-engine inspect --tensors --model ${AX_SHARED}/models/stories260K/stories260K.gguf)
set_tests_properties(inspect_gguf PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "architecture: llama.*rope: theta 10000, adjacent pairs.*tensors: +48, .*tokenizer: +spm, 512 tokens.*model.layers.0.self_attn.q_proj.weight \\(blk.0.attn_q.weight\\) +F32 +\\[64, 64\\]")
add_test(NAME inspect_sharded_hf COMMAND ax-engine inspect --json --model ${AX_SHARED}/models/ax-code-15m)
set_tests_properties(inspect_sharded_hf PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "\"chat_template\": true.*\"BF16\": {[^}]*\"tensors\": 90.*\"tensor_count\": 90")
add_test(NAME inspect_unloadable COMMAND ax-engine inspect --model ${AX_SHARED}/fixtures/quants/quants.gguf)
set_tests_properties(inspect_unloadable PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "not loadable: .*general.architecture 'none' is not supported.*IQ4_XS +1 tensors")
add_test(NAME inspect_latent_attention COMMAND ax-engine inspect --model ${AX_SHARED}/fixtures/deepseek_v3)
set_tests_properties(inspect_latent_attention PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
  "architecture: deepseek_v3.*latent attention: q_lora_rank 32, kv_lora_rank 32, heads of 16 \\+ 8.*kv cache per token: 120 values, 240 bytes at f16 \\(one latent row")
