// Latent attention's cache and config: one compressed row per token and layer instead of K and V
// per head (for the fixtures and for the released DeepSeek-V3 and GLM-4.7-Flash shapes), and the
// released configs' sizes, RoPE and softmax scale. (The engine's pool sized by it:
// tests/engine/engine_model_test.cpp.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "backend/backend.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/gguf_config.h"
#include "model/gguf_export.h"
#include "model/hf_config.h"
#include "model/model.h"
#include "model/model_source.h"
#include "test_support.h"

namespace ax {
namespace {
using nlohmann::json;

// The fields of the released config.json files that size the attention (deepseek-ai/DeepSeek-V3,
// zai-org/GLM-4.7-Flash).
json deepseek_v3_config() {
  return {{"model_type", "deepseek_v3"}, {"vocab_size", 129280}, {"hidden_size", 7168},
          {"intermediate_size", 18432}, {"moe_intermediate_size", 2048}, {"num_hidden_layers", 61},
          {"num_attention_heads", 128}, {"num_key_value_heads", 128}, {"n_routed_experts", 256},
          {"n_shared_experts", 1}, {"num_experts_per_tok", 8}, {"n_group", 8}, {"topk_group", 4},
          {"routed_scaling_factor", 2.5}, {"norm_topk_prob", true}, {"first_k_dense_replace", 3},
          {"q_lora_rank", 1536}, {"kv_lora_rank", 512}, {"qk_nope_head_dim", 128}, {"qk_rope_head_dim", 64},
          {"v_head_dim", 128}, {"max_position_embeddings", 163840}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000},
          {"rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096},
                            {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0}}}};
}
json glm4_7_flash_config() {
  return {{"model_type", "glm4_moe_lite"}, {"vocab_size", 154880}, {"hidden_size", 2048},
          {"intermediate_size", 10240}, {"moe_intermediate_size", 1536}, {"num_hidden_layers", 47},
          {"num_attention_heads", 20}, {"num_key_value_heads", 20}, {"n_routed_experts", 64},
          {"n_shared_experts", 1}, {"num_experts_per_tok", 4}, {"routed_scaling_factor", 1.8},
          {"q_lora_rank", 768}, {"kv_lora_rank", 512}, {"qk_nope_head_dim", 192}, {"qk_rope_head_dim", 64},
          {"v_head_dim", 256}, {"max_position_embeddings", 202752}, {"rms_norm_eps", 1e-5},
          {"rope_parameters", {{"rope_theta", 1000000}, {"rope_type", "default"}}}};
}

// Bytes one token's K and V would take with every head's own rows (what an MLA model without the
// latent cache keeps): nh * (qk_nope + qk_rope + v) values per layer.
int64_t full_kv_bytes_per_token(const ModelConfig& c, KvType t) {
  const MlaConfig& a = c.mla;
  return c.num_layers * c.num_heads * (a.qk_nope_head_dim + a.qk_rope_head_dim + a.v_head_dim) *
         static_cast<int64_t>(kv_type_bytes(t));
}

TEST(Mla, CacheKeepsOneLatentRowPerTokenAndLayer) {
  struct Case {
    const char* name;
    ModelConfig config;
    int64_t latent_bytes;  // f16, per token
  };
  const Case cases[] = {
      {"deepseek_v3 fixture", load_hf_config(test::fixture("deepseek_v3")), 3 * (32 + 8) * 2},
      {"glm4_moe_lite fixture", load_hf_config(test::fixture("glm4_moe_lite")), 3 * (32 + 8) * 2},
      {"DeepSeek-V3", parse_hf_config(deepseek_v3_config(), nullptr, "DeepSeek-V3"), 61 * 576 * 2},
      {"GLM-4.7-Flash", parse_hf_config(glm4_7_flash_config(), nullptr, "GLM-4.7-Flash"), 47 * 576 * 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const KvShape s = kv_shape_for(c.config);
    EXPECT_EQ(s.num_kv_heads, 1);
    EXPECT_EQ(s.head_dim, c.config.mla.kv_lora_rank + c.config.mla.qk_rope_head_dim);
    EXPECT_EQ(s.v_in_k, c.config.mla.kv_lora_rank);
    const int64_t per_token = static_cast<int64_t>(KvCache::bytes_per_block(s, 1, KvType::F16));
    EXPECT_EQ(per_token, c.latent_bytes);
    std::printf("MLA KV %-22s f16 bytes per token: latent %lld, full K/V %lld (%.1fx)\n", c.name,
                static_cast<long long>(per_token), static_cast<long long>(full_kv_bytes_per_token(c.config, KvType::F16)),
                double(full_kv_bytes_per_token(c.config, KvType::F16)) / per_token);
  }
  // A loaded model declares the same cache, and the cache it gets holds K rows only.
  auto be = make_backend({.kind = "cpu", .reference = true});
  auto src = open_model(test::fixture("deepseek_v3"));
  auto model = load_model(*src, *be);
  const KvShape s = model->kv_shape();
  EXPECT_EQ(s.values_per_token_layer(), 40);
  KvCache kv(*be, s, 4, 16, KvType::F16);
  EXPECT_EQ(kv.v_data(2), kv.k_data(2));
}

// The released configs: heads of qk_nope + qk_rope, RoPE over the rope part on adjacent pairs, one
// latent kv head; DeepSeek-V3's YaRN (factor 40, mscale_all_dim 1) scales the scores by mscale^2
// and leaves the rotated values as they are (mscale = mscale_all_dim).
TEST(Mla, ReleasedConfigs) {
  const ModelConfig ds = parse_hf_config(deepseek_v3_config(), nullptr, "DeepSeek-V3");
  EXPECT_EQ(ds.head_dim, 192);
  EXPECT_EQ(ds.num_kv_heads, 1);
  EXPECT_EQ(ds.rope.rotary_dim, 64);
  EXPECT_EQ(ds.rope.style, RopeStyle::AdjacentPairs);
  EXPECT_EQ(ds.rope.scaling_type, "yarn");
  EXPECT_FLOAT_EQ(ds.rope.attention_factor, 1.0f);
  const double mscale = 0.1 * std::log(40.0) + 1.0;
  EXPECT_NEAR(ds.attention_scale(), mscale * mscale / std::sqrt(192.0), 1e-7);
  EXPECT_EQ(ds.mla.q_lora_rank, 1536);
  EXPECT_FLOAT_EQ(ds.mla.latent_norm_eps, 1e-6f);
  EXPECT_EQ(ds.moe.n_group, 8);
  EXPECT_EQ(ds.moe.topk_group, 4);
  EXPECT_EQ(ds.moe.shared_intermediate, 2048);
  for (int64_t l = 0; l < ds.num_layers; ++l) EXPECT_EQ(ds.layers[l].moe, l >= 3) << "layer " << l;

  // GLM-4.7-Flash: 2048 hidden over 20 heads of 192 + 64, plain RoPE, the first layer dense.
  const ModelConfig glm = parse_hf_config(glm4_7_flash_config(), nullptr, "GLM-4.7-Flash");
  EXPECT_EQ(glm.head_dim, 256);
  EXPECT_NEAR(glm.attention_scale(), 1.0 / 16.0, 1e-9);
  EXPECT_FLOAT_EQ(glm.rope.theta, 1e6f);
  EXPECT_FALSE(glm.layers[0].moe);
  EXPECT_TRUE(glm.layers[46].moe);
  EXPECT_EQ(glm.moe.routing, MoeRouting::SigmoidGroupTopK);

  json bias = glm4_7_flash_config();
  bias["attention_bias"] = true;
  EXPECT_THROW(parse_hf_config(bias, nullptr, "config.json"), Error);
  json no_rank = glm4_7_flash_config();
  no_rank["kv_lora_rank"] = 0;
  EXPECT_THROW(parse_hf_config(no_rank, nullptr, "config.json"), Error);
}

// DeepSeek-V3's YaRN through GGUF: llama.cpp's keys (factor, original context, yarn_log_multiplier
// = 0.1 x mscale_all_dim) give back the same RoPE and the same softmax scale.
TEST(Mla, YarnSurvivesTheGgufRoundTrip) {
  const ModelConfig hc = parse_hf_config(deepseek_v3_config(), nullptr, "DeepSeek-V3");
  GgufWriter w;
  write_model_config(w, hc);
  const auto bytes = w.to_bytes();
  auto f = GgufFile::open_memory(bytes.data(), bytes.size(), "deepseek-v3.gguf");
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_float_or("deepseek2.rope.scaling.yarn_log_multiplier", 0.0)), 0.1f);
  const ModelConfig gc = gguf_model_config(*f);
  EXPECT_EQ(gc.rope.scaling_type, "yarn");
  EXPECT_FLOAT_EQ(gc.rope.factor, 40.0f);
  EXPECT_EQ(gc.rope.original_max_position, 4096);
  EXPECT_FLOAT_EQ(gc.rope.mscale_all_dim, 1.0f);
  EXPECT_FLOAT_EQ(gc.rope.attention_factor, 1.0f);
  EXPECT_FLOAT_EQ(gc.attention_scale(), hc.attention_scale());
  EXPECT_EQ(gc.head_dim, 192);
  EXPECT_EQ(gc.mla.v_head_dim, 128);
  for (int64_t l = 0; l < gc.num_layers; ++l) EXPECT_EQ(gc.layers[l].moe, l >= 3) << "layer " << l;
}

}  // namespace
}  // namespace ax
