#include "model/hf_config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "util/error.h"

namespace ax {
namespace {
using nlohmann::json;

std::string error_of(const json& config) {
  try {
    parse_hf_config(config, nullptr, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// transformers 4 style minimal config; tests override fields.
json base_config(const char* type) {
  return {{"model_type", type},       {"vocab_size", 100},        {"hidden_size", 48},
          {"intermediate_size", 96},  {"num_hidden_layers", 3},   {"num_attention_heads", 6},
          {"num_key_value_heads", 2}, {"rms_norm_eps", 1e-5},     {"rope_theta", 1e6},
          {"max_position_embeddings", 2048}};
}

TEST(HfConfig, Fixtures) {
  ModelConfig llama = load_hf_config(test::fixture("llama"));
  EXPECT_EQ(llama.arch_name, "llama");
  EXPECT_EQ(llama.arch_name, "llama");
  EXPECT_EQ(llama.vocab_size, 512);
  EXPECT_EQ(llama.hidden_size, 64);
  EXPECT_EQ(llama.intermediate_size, 128);
  EXPECT_EQ(llama.num_layers, 2);
  EXPECT_EQ(llama.num_heads, 4);
  EXPECT_EQ(llama.num_kv_heads, 2);
  EXPECT_EQ(llama.head_dim, 16);
  EXPECT_EQ(llama.max_position_embeddings, 4096);
  EXPECT_FLOAT_EQ(llama.rms_norm_eps, 1e-6f);
  EXPECT_FLOAT_EQ(llama.rope.theta, 10000.0f);
  EXPECT_EQ(llama.rope.scaling_type, "default");
  EXPECT_EQ(llama.rope.style, RopeStyle::RotateHalf);
  EXPECT_FALSE(llama.tie_word_embeddings);
  EXPECT_FALSE(llama.qkv_bias);
  EXPECT_FALSE(llama.qk_norm);
  EXPECT_EQ(llama.layer_windows(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(llama.bos_token_id, 1);
  EXPECT_EQ(llama.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(llama.pad_token_id, 0);

  ModelConfig l3 = load_hf_config(test::fixture("llama3_rope"));
  EXPECT_EQ(l3.rope.scaling_type, "llama3");
  EXPECT_FLOAT_EQ(l3.rope.theta, 500000.0f);
  EXPECT_FLOAT_EQ(l3.rope.factor, 32.0f);
  EXPECT_FLOAT_EQ(l3.rope.low_freq_factor, 1.0f);
  EXPECT_FLOAT_EQ(l3.rope.high_freq_factor, 4.0f);
  EXPECT_EQ(l3.rope.original_max_position, 8192);
  EXPECT_TRUE(l3.tie_word_embeddings);

  ModelConfig q2 = load_hf_config(test::fixture("qwen2"));
  EXPECT_EQ(q2.arch_name, "qwen2");
  EXPECT_TRUE(q2.qkv_bias);  // no attention_bias field: Qwen2 has q/k/v biases anyway
  EXPECT_FALSE(q2.qk_norm);
  EXPECT_EQ(q2.head_dim, 16);  // hidden / heads
  EXPECT_EQ(q2.layer_windows(), (std::vector<int64_t>{0, 0}));

  ModelConfig q3 = load_hf_config(test::fixture("qwen3"));
  EXPECT_EQ(q3.arch_name, "qwen3");
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_FALSE(q3.qkv_bias);
  EXPECT_EQ(q3.head_dim, 32);

  ModelConfig mi = load_hf_config(test::fixture("mistral"));
  EXPECT_EQ(mi.arch_name, "mistral");
  EXPECT_EQ(mi.layer_windows(), (std::vector<int64_t>{32, 32}));

  ModelConfig st = load_hf_config(test::fixture("stories260K"));
  EXPECT_EQ(st.head_dim, 8);
  EXPECT_EQ(st.num_layers, 5);
  EXPECT_EQ(st.intermediate_size, 172);
  EXPECT_FLOAT_EQ(st.rms_norm_eps, 1e-5f);
  EXPECT_TRUE(st.tie_word_embeddings);
  EXPECT_EQ(st.pad_token_id, -1);  // null in config.json

  ModelConfig ax = load_hf_config(test::shared_model("ax-code-15m"));
  EXPECT_EQ(ax.arch_name, "qwen3");
  EXPECT_EQ(ax.vocab_size, 8192);
  EXPECT_EQ(ax.eos_token_ids, (std::vector<int64_t>{0, 2}));  // list in generation_config.json
  EXPECT_EQ(ax.bos_token_id, 0);
  EXPECT_EQ(ax.layer_windows(), std::vector<int64_t>(8, 0));
}

TEST(HfConfig, Transformers4Style) {
  json c = base_config("llama");
  c["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  ModelConfig m = parse_hf_config(c, nullptr, "config.json");
  EXPECT_EQ(m.head_dim, 8);
  EXPECT_EQ(m.rope.scaling_type, "linear");
  EXPECT_FLOAT_EQ(m.rope.factor, 4.0f);
  EXPECT_FLOAT_EQ(m.rope.theta, 1e6f);

  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  m = parse_hf_config(c, nullptr, "config.json");
  EXPECT_EQ(m.rope.scaling_type, "yarn");
  EXPECT_EQ(m.rope.original_max_position, 32768);
  EXPECT_FLOAT_EQ(m.rope.beta_fast, 32.0f);
  EXPECT_FLOAT_EQ(m.rope.beta_slow, 1.0f);
  EXPECT_TRUE(m.rope.yarn_truncate);
  c["rope_scaling"]["truncate"] = false;
  EXPECT_FALSE(parse_hf_config(c, nullptr, "config.json").rope.yarn_truncate);

  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  c["eos_token_id"] = json::array({128001, 128008, 128009});
  c["bos_token_id"] = 128000;
  m = parse_hf_config(c, nullptr, "config.json");
  EXPECT_EQ(m.rope.scaling_type, "llama3");
  EXPECT_FLOAT_EQ(m.rope.factor, 8.0f);
  EXPECT_EQ(m.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(m.bos_token_id, 128000);
  json gen = {{"eos_token_id", 7}};
  EXPECT_EQ(parse_hf_config(c, &gen, "config.json").eos_token_ids, (std::vector<int64_t>{7}));
}

TEST(HfConfig, SlidingWindows) {
  json q = base_config("qwen2");
  q["sliding_window"] = 64;
  q["use_sliding_window"] = false;
  EXPECT_EQ(parse_hf_config(q, nullptr, "c").layer_windows(), (std::vector<int64_t>{0, 0, 0}));
  q["use_sliding_window"] = true;
  q["max_window_layers"] = 1;
  EXPECT_EQ(parse_hf_config(q, nullptr, "c").layer_windows(), (std::vector<int64_t>{0, 64, 64}));
  q["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention"};
  EXPECT_EQ(parse_hf_config(q, nullptr, "c").layer_windows(), (std::vector<int64_t>{64, 0, 64}));
  q["layer_types"] = {"sliding_attention"};
  EXPECT_NE(error_of(q).find("layer_types"), std::string::npos);

  json mi = base_config("mistral");
  mi["sliding_window"] = nullptr;
  EXPECT_EQ(parse_hf_config(mi, nullptr, "c").layer_windows(), (std::vector<int64_t>{0, 0, 0}));
  mi["sliding_window"] = 4096;
  EXPECT_EQ(parse_hf_config(mi, nullptr, "c").layer_windows(), (std::vector<int64_t>{4096, 4096, 4096}));
}

// gpt-oss: the fixture (transformers 5: layer_types, rope_parameters) and a transformers 4.55 style
// config (rope_scaling, no layer_types: sliding on even layers, GptOssConfig's defaults).
TEST(HfConfig, GptOss) {
  const ModelConfig g = load_hf_config(test::fixture("gpt_oss"));
  EXPECT_EQ(g.arch_name, "gpt_oss");
  EXPECT_EQ(g.layer_windows(), (std::vector<int64_t>{32, 0}));
  EXPECT_TRUE(g.qkv_bias);
  EXPECT_EQ(g.activation, Activation::SiluClamped);
  EXPECT_EQ(g.moe.num_experts, 8);
  EXPECT_EQ(g.moe.top_k, 2);
  EXPECT_EQ(g.moe.expert_intermediate, 64);
  EXPECT_EQ(g.moe.routing, MoeRouting::TopKSoftmax);
  for (const LayerConfig& l : g.layers) {
    EXPECT_TRUE(l.moe);
    EXPECT_EQ(l.rope.scaling_type, "yarn");
    EXPECT_FLOAT_EQ(l.rope.theta, 150000.0f);
    EXPECT_FLOAT_EQ(l.rope.factor, 32.0f);
    EXPECT_EQ(l.rope.original_max_position, 4096);
    EXPECT_FALSE(l.rope.yarn_truncate);
  }

  json c = base_config("gpt_oss");
  c["num_hidden_layers"] = 4;
  c["num_local_experts"] = 32;
  c["num_experts_per_tok"] = 4;
  c["rope_theta"] = 150000;
  c["rope_scaling"] = {{"rope_type", "yarn"},   {"factor", 32.0},      {"beta_fast", 32.0},
                       {"beta_slow", 1.0},      {"truncate", false},   {"original_max_position_embeddings", 4096}};
  const ModelConfig old = parse_hf_config(c, nullptr, "config.json");
  EXPECT_EQ(old.layer_windows(), (std::vector<int64_t>{128, 0, 128, 0}));
  EXPECT_TRUE(old.qkv_bias);
  EXPECT_EQ(old.moe.expert_intermediate, 96);
  EXPECT_FALSE(old.layers[0].rope.yarn_truncate);
  c["swiglu_limit"] = 5.0;
  EXPECT_NE(error_of(c).find("config.json: field 'swiglu_limit' must be 7"), std::string::npos) << error_of(c);
  c.erase("swiglu_limit");
  c["num_experts_per_tok"] = 64;
  EXPECT_NE(error_of(c).find("config.json: a mixture of 32 experts, 64 per token"), std::string::npos) << error_of(c);
}

// Gemma 4: per-layer head widths, RoPE per layer kind (proportional on full layers), PLE, the MoE
// block beside the dense MLP; what is not supported yet is refused by name.
TEST(HfConfig, Gemma4) {
  ModelConfig g = load_hf_config(test::fixture("gemma4_text"));
  EXPECT_EQ(g.arch_name, "gemma4_text");
  EXPECT_EQ(g.layer_windows(), (std::vector<int64_t>{32, 0, 32, 0}));
  EXPECT_EQ(g.head_dim, 16);
  EXPECT_EQ(g.layer_head_dim(0), 16);
  EXPECT_EQ(g.layer_head_dim(1), 32);
  EXPECT_TRUE(g.mixed_head_dims());
  EXPECT_EQ(g.layers[0].rope.scaling_type, "default");
  EXPECT_FLOAT_EQ(g.layers[0].rope.theta, 10000.0f);
  EXPECT_EQ(g.layers[1].rope.scaling_type, "proportional");
  EXPECT_FLOAT_EQ(g.layers[1].rope.theta, 1e6f);
  EXPECT_FLOAT_EQ(g.layers[1].rope.partial_rotary_factor, 0.25f);
  EXPECT_EQ(g.layers[1].rope.rotary_dim, 0);
  EXPECT_FALSE(g.norm_plus_one);
  EXPECT_TRUE(g.qk_norm);
  EXPECT_TRUE(g.v_norm);
  EXPECT_FLOAT_EQ(g.attention_scale(), 1.0f);
  EXPECT_FLOAT_EQ(g.final_softcap, 30.0f);
  EXPECT_EQ(g.per_layer_input_size, 16);
  EXPECT_FALSE(g.layers[0].moe);

  ModelConfig m = load_hf_config(test::fixture("gemma4_text_moe"));
  EXPECT_EQ(m.per_layer_input_size, 0);
  EXPECT_TRUE(m.layers[0].moe && m.layers[1].moe);
  EXPECT_TRUE(m.moe.beside_dense);
  EXPECT_TRUE(m.moe.norm_topk_prob);
  EXPECT_EQ(m.moe.num_experts, 8);
  EXPECT_EQ(m.moe.top_k, 2);
  EXPECT_EQ(m.moe.expert_intermediate, 32);

  json c = {{"model_type", "gemma4_text"}, {"vocab_size", 100}, {"hidden_size", 48}, {"intermediate_size", 96},
            {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"head_dim", 16},
            {"global_head_dim", 64}, {"hidden_activation", "gelu_pytorch_tanh"}, {"sliding_window", 8},
            {"layer_types", {"sliding_attention", "full_attention"}},
            {"rope_parameters",
             {{"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 1e4}}},
              {"full_attention", {{"rope_type", "proportional"}, {"rope_theta", 1e6}, {"partial_rotary_factor", 0.25}}}}}};
  ModelConfig r = parse_hf_config(c, nullptr, "config.json");
  EXPECT_EQ(r.layer_head_dim(0), 16);
  EXPECT_EQ(r.layer_head_dim(1), 64);  // global_head_dim: the full layers' width
  json bad = c;
  bad["num_kv_shared_layers"] = 1;
  EXPECT_NE(error_of(bad).find("num_kv_shared_layers"), std::string::npos);
  bad = c;
  bad["attention_k_eq_v"] = true;
  EXPECT_NE(error_of(bad).find("attention_k_eq_v"), std::string::npos);
  bad = c;
  bad["per_layer_config"] = {{"5", {{"head_dim", 32}}}};
  EXPECT_NE(error_of(bad).find("not a layer index below 2"), std::string::npos);
  bad["per_layer_config"] = {{"1", {{"num_key_value_heads", 1}}}};
  EXPECT_NE(error_of(bad).find("'num_key_value_heads' is not supported"), std::string::npos);
  bad = c;
  bad.erase("layer_types");
  EXPECT_NE(error_of(bad).find("'layer_types'"), std::string::npos);
}

TEST(HfConfig, Errors) {
  json c = base_config("mamba");
  EXPECT_NE(error_of(c).find("model_type 'mamba' is not supported"), std::string::npos);
  c = base_config("llama");
  c.erase("hidden_size");
  EXPECT_NE(error_of(c).find("config.json: required field 'hidden_size' is missing"), std::string::npos);
  c = base_config("llama");
  c["num_key_value_heads"] = 4;
  EXPECT_NE(error_of(c).find("not a multiple of num_key_value_heads"), std::string::npos);
  c = base_config("llama");
  c["hidden_size"] = "64";
  EXPECT_NE(error_of(c).find("'hidden_size' is not an integer"), std::string::npos);
  c = base_config("llama");
  c["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  EXPECT_NE(error_of(c).find("rope type 'dynamic' is not supported"), std::string::npos);
  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 2.0}};
  EXPECT_NE(error_of(c).find("needs field 'low_freq_factor'"), std::string::npos);
  c = base_config("llama");
  c["attention_bias"] = true;
  EXPECT_NE(error_of(c).find("attention_bias"), std::string::npos);
  c = base_config("llama");
  c["hidden_act"] = "gelu";
  EXPECT_NE(error_of(c).find("hidden_act 'gelu'"), std::string::npos);
  c = base_config("llama");
  c["num_attention_heads"] = 0;
  EXPECT_NE(error_of(c).find("must be positive"), std::string::npos);
  EXPECT_NE(error_of(json::array()).find("not a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace ax
