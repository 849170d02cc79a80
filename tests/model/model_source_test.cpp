#include "model/model_source.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "format/gguf.h"
#include "model/architecture.h"
#include "model/gguf_config.h"
#include "test_support.h"
#include "util/error.h"

namespace ax {
namespace {
namespace fs = std::filesystem;

const float* floats(const TensorView& t) { return reinterpret_cast<const float*>(t.data); }

std::string error_of(const std::string& path) {
  try {
    open_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelSource, HfFixtures) {
  for (const char* name : {"llama", "llama3_rope", "qwen2", "qwen3", "mistral", "stories260K"}) {
    SCOPED_TRACE(name);
    auto m = open_model(test::fixture(name));
    EXPECT_EQ(m->format(), "safetensors");
    EXPECT_EQ(m->hf_dir(), test::fixture(name));
    EXPECT_EQ(m->gguf(), nullptr);
    const ModelConfig& c = m->config();
    EXPECT_EQ(m->find("lm_head.weight") == nullptr, c.tie_word_embeddings);
    m->get("model.embed_tokens.weight", {c.vocab_size, c.hidden_size});
    m->get("model.layers.0.self_attn.q_proj.weight", {c.num_heads * c.head_dim, c.hidden_size});
    m->get("model.layers.0.self_attn.k_proj.weight", {c.num_kv_heads * c.head_dim, c.hidden_size});
    m->get("model.layers.0.mlp.down_proj.weight", {c.hidden_size, c.intermediate_size});
    EXPECT_EQ(m->find("model.layers.0.self_attn.q_proj.bias") != nullptr, c.qkv_bias);
    EXPECT_EQ(m->find("model.layers.0.self_attn.q_norm.weight") != nullptr, c.qk_norm);
  }
  auto ax = open_model(test::shared_model("ax-code-15m"));
  EXPECT_EQ(ax->config().arch_name, "qwen3");
  EXPECT_EQ(ax->find("model.embed_tokens.weight")->dtype, DType::BF16);
}

// stories260K exists as a GGUF (llama2.c layout) and as an HF checkpoint converted from the same
// weights: every tensor is identical except that the HF q/k rows are permuted per head from
// interleaved-pair to rotate-half order, and the GGUF keeps an explicit output.weight.
TEST(ModelSource, StoriesGgufMatchesHf) {
  auto g = open_model(test::shared_model("stories260K/stories260K.gguf"));
  auto h = open_model(test::fixture("stories260K"));
  EXPECT_EQ(g->format(), "gguf");
  ASSERT_NE(g->gguf(), nullptr);
  const ModelConfig& gc = g->config();
  const ModelConfig& hc = h->config();
  EXPECT_EQ(gc.arch_name, "llama");
  EXPECT_EQ(gc.rope.style, RopeStyle::AdjacentPairs);
  EXPECT_EQ(hc.rope.style, RopeStyle::RotateHalf);
  EXPECT_EQ(gc.vocab_size, hc.vocab_size);
  EXPECT_EQ(gc.hidden_size, hc.hidden_size);
  EXPECT_EQ(gc.intermediate_size, hc.intermediate_size);
  EXPECT_EQ(gc.num_layers, hc.num_layers);
  EXPECT_EQ(gc.num_heads, hc.num_heads);
  EXPECT_EQ(gc.num_kv_heads, hc.num_kv_heads);
  EXPECT_EQ(gc.head_dim, hc.head_dim);
  EXPECT_FLOAT_EQ(gc.rms_norm_eps, hc.rms_norm_eps);
  EXPECT_FLOAT_EQ(gc.rope.theta, hc.rope.theta);
  EXPECT_EQ(gc.rope.scaling_type, "default");
  EXPECT_EQ(gc.layer_windows(), hc.layer_windows());
  EXPECT_EQ(gc.bos_token_id, 1);
  EXPECT_EQ(gc.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(gc.pad_token_id, -1);  // stored as 0xFFFFFFFF
  EXPECT_FALSE(gc.tie_word_embeddings);

  // Same tensor set (plus the GGUF's explicit lm_head), same shapes.
  EXPECT_EQ(g->tensors().size(), h->tensors().size() + 1);
  const int64_t d = gc.head_dim;
  for (const auto& [name, ht] : h->tensors()) {
    SCOPED_TRACE(name);
    const TensorView& gt = g->get(name, ht.shape);
    ASSERT_EQ(gt.dtype, DType::F32);
    const bool permuted = name.find("q_proj") != std::string::npos || name.find("k_proj") != std::string::npos;
    if (!permuted) {
      EXPECT_EQ(std::memcmp(gt.data, ht.data, ht.nbytes), 0);
      continue;
    }
    // HF row (head, half j, k) == GGUF row (head, 2k + j).
    const int64_t cols = ht.shape[1];
    const int64_t heads = ht.shape[0] / d;
    for (int64_t hd = 0; hd < heads; ++hd)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t k = 0; k < d / 2; ++k) {
          const float* hr = floats(ht) + (hd * d + j * (d / 2) + k) * cols;
          const float* gr = floats(gt) + (hd * d + 2 * k + j) * cols;
          ASSERT_EQ(std::memcmp(hr, gr, static_cast<size_t>(cols) * 4), 0) << "head " << hd << " row " << k;
        }
  }
  const TensorView& out = g->get("lm_head.weight", {gc.vocab_size, gc.hidden_size});
  EXPECT_EQ(std::memcmp(out.data, h->find("model.embed_tokens.weight")->data, out.nbytes), 0);
}

TEST(ModelSource, GetErrorsNameFileAndTensor) {
  auto g = open_model(test::shared_model("stories260K/stories260K.gguf"));
  try {
    g->get("model.layers.0.self_attn.q_proj.weight", {64, 65});
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("stories260K.gguf (GGUF tensor 'blk.0.attn_q.weight')"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[64, 64], expected [64, 65]"), std::string::npos) << msg;
  }
  try {
    g->get("model.layers.9.mlp.up_proj.weight", {1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'model.layers.9.mlp.up_proj.weight' is missing"), std::string::npos);
  }
  auto ax = open_model(test::shared_model("ax-code-15m"));
  try {
    ax->get("model.layers.1.input_layernorm.weight", {3});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model-00002-of-00003.safetensors"), std::string::npos) << e.what();
  }
}

TEST(ModelSource, OpenErrors) {
  EXPECT_NE(error_of("/nonexistent/model").find("no such file"), std::string::npos);
  EXPECT_NE(error_of(test::fixture("quants")).find("no config.json"), std::string::npos);
  EXPECT_NE(error_of(test::fixture("quants/quants.gguf")).find("general.architecture 'none' is not supported"),
            std::string::npos);
  // A folder whose architecture the engine does not run.
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ax_mamba_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"model_type": "mamba", "vocab_size": 8, "hidden_size": 8})";
  EXPECT_NE(error_of(dir.string()).find("model_type 'mamba' is not supported"), std::string::npos);
  std::filesystem::remove_all(dir);
  EXPECT_NE(error_of(test::fixture("quants/README.md")).find("not a .gguf file"), std::string::npos);
}

TEST(GgufNames, MapsToHf) {
  const Architecture& llama = architecture_for_hf("llama", "test");
  EXPECT_EQ(gguf_to_hf_name(llama, "token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "output_norm.weight"), "model.norm.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "output.weight"), "lm_head.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.12.attn_norm.weight"), "model.layers.12.input_layernorm.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.0.attn_q.bias"), "model.layers.0.self_attn.q_proj.bias");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.0.attn_k.weight"), "model.layers.0.self_attn.k_proj.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.0.attn_v.bias"), "model.layers.0.self_attn.v_proj.bias");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.0.attn_output.weight"), "model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.3.attn_q_norm.weight"), "model.layers.3.self_attn.q_norm.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.3.attn_k_norm.weight"), "model.layers.3.self_attn.k_norm.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.1.ffn_norm.weight"), "model.layers.1.post_attention_layernorm.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.1.ffn_gate.weight"), "model.layers.1.mlp.gate_proj.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.1.ffn_up.weight"), "model.layers.1.mlp.up_proj.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.1.ffn_down.weight"), "model.layers.1.mlp.down_proj.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "rope_freqs.weight"), "rope_freqs.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk.x.ffn_down.weight"), "blk.x.ffn_down.weight");
  EXPECT_EQ(gguf_to_hf_name(llama, "blk..weight"), "blk..weight");
}

}  // namespace
}  // namespace ax
