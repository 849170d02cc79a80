#include "model/architecture.h"
#include "model/gguf_export.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/gguf_config.h"
#include "model/model_source.h"
#include "test_support.h"
#include "util/error.h"

namespace ax {
namespace {
namespace fs = std::filesystem;

fs::path temp_file(const std::string& tag) {
  return fs::temp_directory_path() / ("ax_export_" + tag + "_" + std::to_string(std::random_device{}()) + ".gguf");
}

// `hf` written as a GGUF file in the temporary folder (removed by the caller).
fs::path write_temp_gguf(const ModelSource& hf, const std::string& tag) {
  GgufWriter w;
  write_model_config(w, hf.config());
  add_hf_tensors(w, hf.config(), hf.tensors());
  const fs::path path = temp_file(tag);
  w.write(path.string());
  return path;
}

void expect_same_config(const ModelConfig& g, const ModelConfig& h) {
  EXPECT_EQ(g.arch_name, h.arch_name == "mistral" ? "llama" : h.arch_name);  // llama.cpp writes Mistral as llama
  EXPECT_EQ(g.vocab_size, h.vocab_size);
  EXPECT_EQ(g.hidden_size, h.hidden_size);
  EXPECT_EQ(g.intermediate_size, h.intermediate_size);
  EXPECT_EQ(g.num_layers, h.num_layers);
  EXPECT_EQ(g.num_heads, h.num_heads);
  EXPECT_EQ(g.num_kv_heads, h.num_kv_heads);
  EXPECT_EQ(g.head_dim, h.head_dim);
  EXPECT_EQ(g.max_position_embeddings, h.max_position_embeddings);
  EXPECT_FLOAT_EQ(g.rms_norm_eps, h.rms_norm_eps);
  EXPECT_FLOAT_EQ(g.rope.theta, h.rope.theta);
  EXPECT_EQ(g.rope.scaling_type, h.rope.scaling_type);
  EXPECT_EQ(g.rope.style, (h.arch_name == "llama" || h.arch_name == "mistral") ? RopeStyle::AdjacentPairs : RopeStyle::RotateHalf);
  EXPECT_EQ(g.layer_windows(), h.layer_windows());
  EXPECT_EQ(g.tie_word_embeddings, h.tie_word_embeddings);
  EXPECT_EQ(g.qkv_bias, h.qkv_bias);
  EXPECT_EQ(g.qk_norm, h.qk_norm);
  EXPECT_EQ(g.bos_token_id, h.bos_token_id);
  EXPECT_EQ(g.eos_token_ids, h.eos_token_ids);
  EXPECT_EQ(g.pad_token_id, h.pad_token_id);
}

// The mixture-of-experts config read back from GGUF is the one written.
void expect_same_moe(const MoeConfig& g, const MoeConfig& h) {
  EXPECT_EQ(g.num_experts, h.num_experts);
  EXPECT_EQ(g.top_k, h.top_k);
  EXPECT_EQ(g.expert_intermediate, h.expert_intermediate);
  EXPECT_EQ(g.shared_intermediate, h.shared_intermediate);
  EXPECT_EQ(g.shared_expert_gate, h.shared_expert_gate);
  EXPECT_EQ(g.routing, h.routing);
  EXPECT_EQ(g.norm_topk_prob, h.norm_topk_prob);
  EXPECT_FLOAT_EQ(g.routed_scaling, h.routed_scaling);
  EXPECT_EQ(g.n_group, h.n_group);
  EXPECT_EQ(g.topk_group, h.topk_group);
}

// Each HF fixture written as GGUF and opened again: same config, same tensors (q/k rows of llama
// GGUFs permuted per head, biases included), llama3 RoPE carried by rope_freqs.weight.
TEST(GgufExport, HfFixturesRoundTrip) {
  for (const char* name : {"llama", "llama3_rope", "qwen2", "qwen3", "mistral", "stories260K", "gpt_oss"}) {
    SCOPED_TRACE(name);
    auto hf = open_model(test::fixture(name));
    const ModelConfig& hc = hf->config();
    const fs::path path = write_temp_gguf(*hf, name);
    auto g = open_model(path.string());
    const ModelConfig& gc = g->config();
    expect_same_config(gc, hc);
    if (hc.rope.scaling_type == "llama3") {
      EXPECT_FLOAT_EQ(gc.rope.factor, hc.rope.factor);
      // Any llama3 parameters that give the same divisors are equivalent; these are exact here.
      EXPECT_EQ(llama3_rope_factors(gc.rope, gc.head_dim), llama3_rope_factors(hc.rope, hc.head_dim));
      EXPECT_NE(g->find("rope_freqs.weight"), nullptr);
    }
    if (hc.arch_name == "gpt_oss") {  // its own keys: experts, clamped SwiGLU, unrounded YaRN
      EXPECT_EQ(g->gguf()->get_string("general.architecture"), "gpt-oss");
      EXPECT_EQ(g->gguf()->get_int("gpt-oss.expert_count"), 8);
      EXPECT_EQ(gc.moe.num_experts, hc.moe.num_experts);
      EXPECT_EQ(gc.moe.top_k, hc.moe.top_k);
      EXPECT_EQ(gc.moe.expert_intermediate, hc.moe.expert_intermediate);
      EXPECT_EQ(gc.moe.routing, MoeRouting::TopKSoftmax);
      EXPECT_EQ(gc.activation, Activation::SiluClamped);
      for (const LayerConfig& l : gc.layers) EXPECT_FALSE(l.rope.yarn_truncate);
      EXPECT_NE(g->find("model.layers.1.self_attn.sinks"), nullptr);
      EXPECT_NE(g->gguf()->tensor("blk.1.attn_sinks.weight"), nullptr);
      EXPECT_NE(g->gguf()->tensor("blk.0.ffn_gate_exps.bias"), nullptr);
      EXPECT_NE(g->gguf()->tensor("blk.0.ffn_gate_inp.bias"), nullptr);
      EXPECT_NE(g->gguf()->tensor("blk.0.post_attention_norm.weight"), nullptr);
    }
    const int64_t d = hc.head_dim;
    for (const auto& [tname, ht] : hf->tensors()) {
      SCOPED_TRACE(tname);
      const TensorView& gt = g->get(tname, ht.shape);
      ASSERT_EQ(gt.dtype, ht.dtype);
      const bool permuted = gguf_arch_name(hc) == "llama" &&
                            (tname.find("q_proj") != std::string::npos || tname.find("k_proj") != std::string::npos);
      if (!permuted) {
        EXPECT_EQ(std::memcmp(gt.data, ht.data, ht.nbytes), 0);
        continue;
      }
      const size_t row = ht.nbytes / static_cast<size_t>(ht.shape[0]);
      for (int64_t h = 0; h < ht.shape[0] / d; ++h)
        for (int64_t j = 0; j < 2; ++j)
          for (int64_t k = 0; k < d / 2; ++k)
            ASSERT_EQ(std::memcmp(gt.data + (h * d + 2 * k + j) * row, ht.data + (h * d + j * (d / 2) + k) * row, row), 0);
    }
    fs::remove(path);
  }
}

// The latent-attention fixtures as llama.cpp's "deepseek2": the same latent and expert config
// (GLM-4.7-Flash's file reads back as deepseek_v3, the architecture llama.cpp gives both), one kv
// head whose key/value_length are the latent row's, kv_b_proj split per head into attn_k_b
// (transposed) and attn_v_b, every layer's experts stacked into one tensor per kind.
TEST(GgufExport, LatentAttentionFixturesRoundTrip) {
  for (const char* name : {"deepseek_v3", "glm4_moe_lite"}) {
    SCOPED_TRACE(name);
    auto hf = open_model(test::fixture(name));
    const ModelConfig& hc = hf->config();
    GgufWriter w;
    write_model_config(w, hc);
    add_hf_tensors(w, hc, hf->tensors());
    const fs::path path = temp_file(name);
    w.write(path.string());
    auto g = open_model(path.string());
    const ModelConfig& gc = g->config();
    EXPECT_EQ(g->gguf()->get_string("general.architecture"), "deepseek2");
    EXPECT_EQ(g->gguf()->get_int("deepseek2.attention.head_count_kv"), 1);
    EXPECT_EQ(g->gguf()->get_int("deepseek2.attention.key_length"), 40);  // kv_lora 32 + rope 8
    EXPECT_EQ(g->gguf()->get_int("deepseek2.attention.value_length"), 32);
    EXPECT_EQ(g->gguf()->get_int("deepseek2.attention.key_length_mla"), 24);
    EXPECT_EQ(gc.arch_name, "deepseek_v3");
    for (const ModelConfig* c : {&gc, &hc}) {
      EXPECT_EQ(c->head_dim, 24);
      EXPECT_EQ(c->num_kv_heads, 1);
      EXPECT_EQ(c->rope.rotary_dim, 8);
      EXPECT_EQ(c->rope.style, RopeStyle::AdjacentPairs);
    }
    EXPECT_FLOAT_EQ(gc.attention_scale(), hc.attention_scale());
    EXPECT_EQ(gc.mla.q_lora_rank, hc.mla.q_lora_rank);
    EXPECT_EQ(gc.mla.kv_lora_rank, hc.mla.kv_lora_rank);
    EXPECT_EQ(gc.mla.qk_nope_head_dim, hc.mla.qk_nope_head_dim);
    EXPECT_EQ(gc.mla.qk_rope_head_dim, hc.mla.qk_rope_head_dim);
    EXPECT_EQ(gc.mla.v_head_dim, hc.mla.v_head_dim);
    EXPECT_EQ(gc.moe.routing, MoeRouting::SigmoidGroupTopK);
    expect_same_moe(gc.moe, hc.moe);
    for (int64_t l = 0; l < hc.num_layers; ++l) EXPECT_EQ(gc.layers[l].moe, hc.layers[l].moe) << "layer " << l;
    const MlaConfig& a = hc.mla;
    const int64_t nh = hc.num_heads, c = a.kv_lora_rank, nope = a.qk_nope_head_dim, v = a.v_head_dim;
    for (int64_t l = 0; l < hc.num_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      EXPECT_EQ(g->find(p + "self_attn.kv_b_proj.weight"), nullptr);
      const TensorView& kv_b = hf->get(p + "self_attn.kv_b_proj.weight", {nh * (nope + v), c});
      const TensorView& k_b = g->get(p + "self_attn.k_b_proj.weight", {nh, c, nope});
      const TensorView& v_b = g->get(p + "self_attn.v_b_proj.weight", {nh, v, c});
      auto at = [](const TensorView& t, int64_t i) {
        float f;
        std::memcpy(&f, t.data + 4 * i, 4);
        return f;
      };
      for (int64_t h = 0; h < nh; ++h)
        for (int64_t j = 0; j < c; ++j) {
          for (int64_t i = 0; i < nope; ++i)
            ASSERT_EQ(at(k_b, (h * c + j) * nope + i), at(kv_b, (h * (nope + v) + i) * c + j));
          for (int64_t i = 0; i < v; ++i) ASSERT_EQ(at(v_b, (h * v + i) * c + j), at(kv_b, (h * (nope + v) + nope + i) * c + j));
        }
      if (!hc.layers[l].moe) continue;
      const int64_t E = hc.moe.num_experts, I = hc.moe.expert_intermediate, H = hc.hidden_size;
      const TensorView& gate = g->get(p + "mlp.experts.gate_proj.weight", {E, I, H});
      for (int64_t e = 0; e < E; ++e) {
        const TensorView& one = hf->get(p + "mlp.experts." + std::to_string(e) + ".gate_proj.weight", {I, H});
        ASSERT_EQ(0, std::memcmp(gate.data + e * one.nbytes, one.data, one.nbytes)) << "expert " << e;
      }
    }
    fs::remove(path);
  }
}

// The newer families written as GGUF and opened again: the same layer plan (windows, each
// layer's RoPE, dense or MoE), options and routing; experts stored one tensor each (HF) arrive as
// one [experts, rows, cols] tensor holding them in order; (1 + w) norms are stored as 1 + w.
TEST(GgufExport, FamiliesRoundTrip) {
  for (const char* name : {"phi3", "gemma2", "gemma3_text", "qwen3_moe", "glm4_moe", "gemma4_text", "gemma4_text_moe"}) {
    SCOPED_TRACE(name);
    auto hf = open_model(test::fixture(name));
    const ModelConfig& hc = hf->config();
    const fs::path path = write_temp_gguf(*hf, name);
    auto g = open_model(path.string());
    const ModelConfig& gc = g->config();
    expect_same_config(gc, hc);
    EXPECT_EQ(gc.rope.rotary_dim, hc.rope.rotary_dim);
    ASSERT_EQ(gc.layers.size(), hc.layers.size());
    for (size_t l = 0; l < hc.layers.size(); ++l) {
      EXPECT_EQ(gc.layers[l].moe, hc.layers[l].moe) << "layer " << l;
      EXPECT_FLOAT_EQ(gc.layers[l].rope.theta, hc.layers[l].rope.theta) << "layer " << l;
      // Gemma 4: each layer's head width and RoPE kind (proportional on full layers, by rope_freqs)
      EXPECT_EQ(gc.layer_head_dim(l), hc.layer_head_dim(l)) << "layer " << l;
      EXPECT_EQ(gc.layers[l].rope.scaling_type, hc.layers[l].rope.scaling_type) << "layer " << l;
      EXPECT_FLOAT_EQ(gc.layers[l].rope.partial_rotary_factor, hc.layers[l].rope.partial_rotary_factor) << "layer " << l;
    }
    EXPECT_EQ(gc.v_norm, hc.v_norm);
    EXPECT_FLOAT_EQ(gc.attention_scale(), hc.attention_scale());
    EXPECT_EQ(gc.per_layer_input_size, hc.per_layer_input_size);
    EXPECT_EQ(gc.moe.beside_dense, hc.moe.beside_dense);
    EXPECT_EQ(gc.activation, hc.activation);
    EXPECT_FLOAT_EQ(gc.embed_scale, hc.embed_scale);
    EXPECT_FLOAT_EQ(gc.attn_softcap, hc.attn_softcap);
    EXPECT_FLOAT_EQ(gc.final_softcap, hc.final_softcap);
    expect_same_moe(gc.moe, hc.moe);
    auto file = GgufFile::open(path.string());
    for (const auto& [tname, ht] : hf->tensors()) {
      SCOPED_TRACE(tname);
      const std::string gname = hf_to_gguf_name(architecture_of(hc), tname);
      if (const TensorView* gt = file->tensor(gname)) {
        ASSERT_EQ(gt->shape, ht.shape);
        if (hc.norm_plus_one && tname.ends_with("norm.weight")) {
          const float* a = reinterpret_cast<const float*>(gt->data);
          const float* b = reinterpret_cast<const float*>(ht.data);
          for (int64_t i = 0; i < ht.shape[0]; ++i) ASSERT_EQ(a[i], b[i] + 1.0f);
        } else {
          EXPECT_EQ(std::memcmp(gt->data, ht.data, ht.nbytes), 0);
        }
        continue;
      }
      // An expert: model.layers.L.mlp.experts.E.P.weight is slice E of blk.L.ffn_P_exps.
      const size_t at = tname.find(".mlp.experts.");
      ASSERT_NE(at, std::string::npos) << "not in the GGUF";
      const size_t dot = tname.find('.', at + 13);
      const int64_t e = std::stoll(tname.substr(at + 13, dot - at - 13));
      const std::string stacked = tname.substr(0, at + 13) + tname.substr(dot + 1);
      const TensorView* st = file->tensor(hf_to_gguf_name(architecture_of(hc), stacked));
      ASSERT_NE(st, nullptr) << stacked;
      ASSERT_EQ(st->shape, (std::vector<int64_t>{hc.moe.num_experts, ht.shape[0], ht.shape[1]}));
      EXPECT_EQ(std::memcmp(st->data + e * ht.nbytes, ht.data, ht.nbytes), 0);
    }
    fs::remove(path);
  }
}

// gpt-oss layer patterns other than llama.cpp's default go as a per-layer list, a RoPE base of
// their own for the sliding layers as rope.freq_base_swa; what GGUF cannot say is refused.
TEST(GgufExport, GptOssLayerPatterns) {
  auto hf = open_model(test::fixture("gpt_oss"));
  for (const bool swapped : {false, true}) {
    ModelConfig c = hf->config();
    std::swap(c.layers[0], c.layers[1]);  // full, then sliding
    if (swapped) c.layers[1].rope.theta = 10000.0f;
    GgufWriter w;
    write_model_config(w, c);
    const auto bytes = w.to_bytes();
    auto f = GgufFile::open_memory(bytes.data(), bytes.size(), "gpt-oss.gguf");
    const ModelConfig got = gguf_model_config(*f);
    EXPECT_EQ(got.layer_windows(), (std::vector<int64_t>{0, 32}));
    EXPECT_FLOAT_EQ(got.layers[0].rope.theta, 150000.0f);
    EXPECT_FLOAT_EQ(got.layers[1].rope.theta, swapped ? 10000.0f : 150000.0f);
  }
  ModelConfig c = hf->config();
  c.layers[0].rope.yarn_truncate = true;
  GgufWriter w;
  try {
    write_model_config(w, c);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"truncate\": true) has no GGUF form"), std::string::npos) << e.what();
  }
}

// Released Llama 3.x RoPE settings survive the trip through rope_freqs.weight.
TEST(GgufExport, Llama3RopeFromFreqsTensor) {
  struct Case {
    float theta, factor;
    int64_t head_dim, original;
  };
  for (Case cs : {Case{500000.0f, 32.0f, 64, 8192}, Case{500000.0f, 8.0f, 128, 8192}, Case{500000.0f, 32.0f, 128, 8192},
                  Case{10000.0f, 4.0f, 64, 2048}}) {
    SCOPED_TRACE(cs.head_dim);
    ModelConfig c;
    c.arch_name = "llama";
    c.vocab_size = 32;
    c.hidden_size = cs.head_dim * 2;
    c.intermediate_size = 64;
    c.num_layers = 1;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    c.head_dim = cs.head_dim;
    c.max_position_embeddings = 131072;
    c.layers.assign(1, LayerConfig{});
    c.rope.theta = cs.theta;
    c.rope.scaling_type = "llama3";
    c.rope.factor = cs.factor;
    c.rope.low_freq_factor = 1.0f;
    c.rope.high_freq_factor = 4.0f;
    c.rope.original_max_position = cs.original;
    GgufWriter w;
    write_model_config(w, c);
    w.add_tensor("token_embd.weight", DType::F32, {32, c.hidden_size}, std::vector<float>(32 * c.hidden_size, 0.25f));
    const auto bytes = w.to_bytes();
    auto f = GgufFile::open_memory(bytes.data(), bytes.size(), "llama3.gguf");
    const ModelConfig got = gguf_model_config(*f);
    EXPECT_EQ(got.rope.scaling_type, "llama3");
    EXPECT_FLOAT_EQ(got.rope.factor, cs.factor);
    EXPECT_FLOAT_EQ(got.rope.low_freq_factor, 1.0f);
    EXPECT_NEAR(got.rope.high_freq_factor, 4.0f, 1e-3);
    EXPECT_EQ(got.rope.original_max_position, cs.original);
    EXPECT_EQ(got.rope.style, RopeStyle::AdjacentPairs);
  }
}

TEST(GgufExport, RejectsForeignRopeFreqs) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  GgufWriter w;
  ModelConfig c;
  c.arch_name = "llama";
  c.vocab_size = 32;
  c.hidden_size = 64;
  c.intermediate_size = 64;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 2;
  c.head_dim = 32;
  c.layers.assign(1, LayerConfig{});
  write_model_config(w, c);
  std::vector<float> freqs(16);
  for (auto& v : freqs) v = std::uniform_real_distribution<float>(1.0f, 40.0f)(rng);
  w.add_tensor("rope_freqs.weight", DType::F32, {16}, freqs);
  const auto bytes = w.to_bytes();
  auto f = GgufFile::open_memory(bytes.data(), bytes.size(), "odd.gguf");
  try {
    gguf_model_config(*f);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("odd.gguf: tensor 'rope_freqs.weight'"), std::string::npos) << e.what();
  }
}

// The recipe for random-weight test models of real shapes: config -> metadata, a real
// vocabulary's tokenizer metadata, weights filled while writing.
TEST(GgufExport, RandomWeightModelWithRealVocab) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto vocab = GgufFile::open(test::shared_model("llamacpp-vocab/ggml-vocab-qwen2.gguf"));
  ModelConfig c;
  c.arch_name = "qwen3";
  c.vocab_size = static_cast<int64_t>(vocab->find("tokenizer.ggml.tokens")->as_array().items.size());
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 32;
  c.max_position_embeddings = 4096;
  c.rope.theta = 1e6f;
  c.layers.assign(2, LayerConfig{});
  c.tie_word_embeddings = true;
  c.qk_norm = true;
  GgufWriter w;
  write_model_config(w, c);
  w.copy_metadata(*vocab, "tokenizer.");
  std::mt19937 rng(seed);
  auto fill_rows = [&](const std::vector<int64_t>& shape) {
    return [&rng, cols = shape.back()](int64_t, int64_t rows, float* v) {
      std::normal_distribution<float> nd(0.0f, 0.05f);
      for (int64_t i = 0; i < rows * cols; ++i) v[i] = nd(rng);
    };
  };
  w.add_tensor_fill("token_embd.weight", DType::Q8_0, {c.vocab_size, 64}, fill_rows({c.vocab_size, 64}));
  w.add_tensor_fill("output_norm.weight", DType::F32, {64}, fill_rows({64}));
  for (int l = 0; l < 2; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    for (auto [name, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
             {"attn_norm.weight", {64}}, {"attn_q.weight", {128, 64}}, {"attn_k.weight", {64, 64}},
             {"attn_v.weight", {64, 64}}, {"attn_output.weight", {64, 128}}, {"attn_q_norm.weight", {32}},
             {"attn_k_norm.weight", {32}}, {"ffn_norm.weight", {64}}, {"ffn_gate.weight", {96, 64}},
             {"ffn_up.weight", {96, 64}}, {"ffn_down.weight", {64, 96}}})
      w.add_tensor_fill(b + name, shape.size() == 1 ? DType::F32 : DType::Q8_0, shape, fill_rows(shape));
  }
  const fs::path path = temp_file("random_qwen3");
  w.write(path.string());
  auto m = open_model(path.string());
  const ModelConfig& got = m->config();
  EXPECT_EQ(got.arch_name, "qwen3");
  EXPECT_EQ(got.vocab_size, 151936);
  EXPECT_TRUE(got.tie_word_embeddings);
  EXPECT_TRUE(got.qk_norm);
  EXPECT_EQ(got.rope.style, RopeStyle::RotateHalf);
  EXPECT_EQ(got.eos_token_ids, (std::vector<int64_t>{151643}));  // from the vocabulary
  EXPECT_EQ(m->get("model.layers.1.mlp.down_proj.weight", {64, 96}).dtype, DType::Q8_0);
  EXPECT_EQ(m->gguf()->get_string("tokenizer.ggml.pre"), "qwen2");
  fs::remove(path);
}

TEST(GgufExport, NamesAreInverse) {
  const Architecture& llama = architecture_for_hf("llama", "test");
  for (const char* hf : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
                         "model.layers.7.input_layernorm.weight", "model.layers.7.self_attn.q_proj.bias",
                         "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.k_norm.weight",
                         "model.layers.3.post_attention_layernorm.weight", "model.layers.3.mlp.down_proj.weight"}) {
    const std::string g = hf_to_gguf_name(llama, hf);
    EXPECT_NE(g, hf);
    EXPECT_EQ(gguf_to_hf_name(llama, g), hf);
  }
  EXPECT_EQ(hf_to_gguf_name(llama, "model.layers.x.mlp.down_proj.weight"), "model.layers.x.mlp.down_proj.weight");
}

// The gated-delta hybrids as llama.cpp's converter writes them, checked against the checkpoint's
// own tensors (not our reading of them): qwen3next keeps the fused ssm_ba and regroups in_proj_qkvz
// into attn_qkv ([all q | all k | all v]) and attn_gate; qwen35 / qwen35moe reorder every value
// head from grouped by key head (k * r + i) to tiled (i * nk + k); all store ssm_a = -exp(A_log),
// the conv kernel squeezed to [channels, kernel], the gated attention's q_proj as it is, and norms
// as 1 + w except the gated one. Read back, the config is the same (value heads tiled for qwen35).
TEST(GgufExport, HybridFixturesInLlamaCppLayout) {
  for (const char* name : {"qwen3_next", "qwen3_5_text", "qwen3_5_moe_text"}) {
    SCOPED_TRACE(name);
    auto hf = open_model(test::fixture(name));
    auto raw = SafetensorsModel::open(test::fixture(name));
    const ModelConfig& hc = hf->config();
    const GatedDeltaConfig& gd = hc.gated_delta;
    const fs::path path = write_temp_gguf(*hf, name);
    auto file = GgufFile::open(path.string());
    const std::string a = file->get_string("general.architecture");
    const bool next = std::string(name) == "qwen3_next";
    EXPECT_EQ(a, next ? "qwen3next" : std::string(name) == "qwen3_5_text" ? "qwen35" : "qwen35moe");
    EXPECT_EQ(file->get_int(a + ".ssm.conv_kernel"), gd.conv_kernel);
    EXPECT_EQ(file->get_int(a + ".ssm.state_size"), gd.k_head_dim);
    EXPECT_EQ(file->get_int(a + ".ssm.group_count"), gd.num_k_heads);
    EXPECT_EQ(file->get_int(a + ".ssm.time_step_rank"), gd.num_v_heads);
    EXPECT_EQ(file->get_int(a + ".ssm.inner_size"), gd.num_v_heads * gd.v_head_dim);
    EXPECT_EQ(file->get_int(a + ".full_attention_interval"), 4);
    EXPECT_EQ(file->get_int(a + ".rope.dimension_count"), hc.head_dim / 4);
    if (hc.moe.shared_intermediate > 0) {
      EXPECT_EQ(file->get_int(a + ".expert_shared_feed_forward_length"), 64);
    }
    EXPECT_EQ(file->find(a + ".rope.dimension_sections") != nullptr, !next);

    auto f32 = [](const TensorView& t, int64_t i) {
      float v;
      std::memcpy(&v, t.data + 4 * i, 4);
      return v;
    };
    auto tensor = [&](const std::string& n, std::vector<int64_t> shape) -> const TensorView& {
      const TensorView* t = file->tensor(n);
      if (t == nullptr) fail("no tensor {}", n);
      EXPECT_EQ(t->shape, shape) << n;
      return *t;
    };
    const int64_t H = hc.hidden_size, nk = gd.num_k_heads, nv = gd.num_v_heads, r = nv / nk;
    const int64_t dk = gd.k_head_dim, dv = gd.v_head_dim, kw = nk * dk, C = gd.conv_channels();
    // Value head at position h of the file: the checkpoint's head src(h).
    auto src = [&](int64_t h) { return next ? h : (h % nk) * r + h / nk; };
    const size_t hrow = static_cast<size_t>(H) * 4;  // bytes of one [H] row
    // Linear attention (layer 0).
    const std::string hp = "model.layers.0.linear_attn.";
    const TensorView& qkv = tensor("blk.0.attn_qkv.weight", {C, H});
    const TensorView& z = tensor("blk.0.attn_gate.weight", {nv * dv, H});
    if (next) {
      const TensorView& qkvz = *raw->tensor(hp + "in_proj_qkvz.weight");
      const int64_t group = 2 * dk + 2 * r * dv;
      for (int64_t k = 0; k < nk; ++k)
        for (int64_t j = 0; j < dk; ++j) {
          ASSERT_EQ(0, std::memcmp(qkv.data + (k * dk + j) * hrow, qkvz.data + (k * group + j) * hrow, hrow));
          ASSERT_EQ(0, std::memcmp(qkv.data + (kw + k * dk + j) * hrow, qkvz.data + (k * group + dk + j) * hrow, hrow));
        }
      for (int64_t k = 0; k < nk; ++k)
        for (int64_t j = 0; j < r * dv; ++j) {
          ASSERT_EQ(0, std::memcmp(qkv.data + (2 * kw + k * r * dv + j) * hrow, qkvz.data + (k * group + 2 * dk + j) * hrow, hrow));
          ASSERT_EQ(0, std::memcmp(z.data + (k * r * dv + j) * hrow, qkvz.data + (k * group + 2 * dk + r * dv + j) * hrow, hrow));
        }
      const TensorView& ba = tensor("blk.0.ssm_ba.weight", {2 * nv, H});
      EXPECT_EQ(0, std::memcmp(ba.data, raw->tensor(hp + "in_proj_ba.weight")->data, ba.nbytes));
      EXPECT_EQ(file->tensor("blk.0.ssm_beta.weight"), nullptr);
    } else {
      const TensorView& hq = *raw->tensor(hp + "in_proj_qkv.weight");
      EXPECT_EQ(0, std::memcmp(qkv.data, hq.data, 2 * kw * hrow));
      const TensorView& hz = *raw->tensor(hp + "in_proj_z.weight");
      const TensorView& beta = tensor("blk.0.ssm_beta.weight", {nv, H});
      const TensorView& alpha = tensor("blk.0.ssm_alpha.weight", {nv, H});
      for (int64_t h = 0; h < nv; ++h) {
        for (int64_t j = 0; j < dv; ++j) {
          ASSERT_EQ(0, std::memcmp(qkv.data + (2 * kw + h * dv + j) * hrow, hq.data + (2 * kw + src(h) * dv + j) * hrow, hrow));
          ASSERT_EQ(0, std::memcmp(z.data + (h * dv + j) * hrow, hz.data + (src(h) * dv + j) * hrow, hrow));
        }
        ASSERT_EQ(0, std::memcmp(beta.data + h * hrow, raw->tensor(hp + "in_proj_b.weight")->data + src(h) * hrow, hrow));
        ASSERT_EQ(0, std::memcmp(alpha.data + h * hrow, raw->tensor(hp + "in_proj_a.weight")->data + src(h) * hrow, hrow));
      }
    }
    const TensorView& conv = tensor("blk.0.ssm_conv1d.weight", {C, gd.conv_kernel});
    const TensorView& hconv = *raw->tensor(hp + "conv1d.weight");
    for (int64_t c = 0; c < C; ++c) {
      const int64_t from = c < 2 * kw ? c : 2 * kw + src((c - 2 * kw) / dv) * dv + (c - 2 * kw) % dv;
      for (int64_t j = 0; j < gd.conv_kernel; ++j) ASSERT_EQ(f32(conv, c * gd.conv_kernel + j), f32(hconv, from * gd.conv_kernel + j));
    }
    const TensorView& ssm_a = tensor("blk.0.ssm_a", {nv});
    const TensorView& dt = tensor("blk.0.ssm_dt.bias", {nv});
    for (int64_t h = 0; h < nv; ++h) {
      EXPECT_FLOAT_EQ(f32(ssm_a, h), -std::exp(f32(*raw->tensor(hp + "A_log"), src(h))));
      EXPECT_EQ(f32(dt, h), f32(*raw->tensor(hp + "dt_bias"), src(h)));
    }
    const TensorView& out = tensor("blk.0.ssm_out.weight", {H, nv * dv});
    const TensorView& hout = *raw->tensor(hp + "out_proj.weight");
    for (int64_t i = 0; i < H; ++i)
      for (int64_t h = 0; h < nv; ++h)
        ASSERT_EQ(0, std::memcmp(out.data + (i * nv + h) * dv * 4, hout.data + (i * nv + src(h)) * dv * 4, dv * 4));
    EXPECT_EQ(0, std::memcmp(tensor("blk.0.ssm_norm.weight", {dv}).data, raw->tensor(hp + "norm.weight")->data, dv * 4));
    // 1 + w norms, and the gated attention's q_proj as it is (layer 3).
    for (auto [g, h] : {std::pair{"blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"},
                        {"blk.0.post_attention_norm.weight", "model.layers.0.post_attention_layernorm.weight"},
                        {"blk.3.attn_q_norm.weight", "model.layers.3.self_attn.q_norm.weight"}}) {
      const TensorView& gt = *file->tensor(g);
      for (int64_t i = 0; i < gt.numel(); ++i) ASSERT_EQ(f32(gt, i), f32(*raw->tensor(h), i) + 1.0f) << g;
    }
    const TensorView& q = tensor("blk.3.attn_q.weight", {2 * hc.num_heads * hc.head_dim, H});
    EXPECT_EQ(0, std::memcmp(q.data, raw->tensor("model.layers.3.self_attn.q_proj.weight")->data, q.nbytes));

    auto g = open_model(path.string());
    const ModelConfig& gc = g->config();
    expect_same_config(gc, hc);
    EXPECT_EQ(gc.rope.rotary_dim, hc.rope.rotary_dim);
    EXPECT_EQ(gc.attn_output_gate, true);
    EXPECT_EQ(gc.norm_plus_one, false);
    EXPECT_EQ(gc.gated_delta.num_k_heads, nk);
    EXPECT_EQ(gc.gated_delta.num_v_heads, nv);
    EXPECT_EQ(gc.gated_delta.k_head_dim, dk);
    EXPECT_EQ(gc.gated_delta.v_head_dim, dv);
    EXPECT_EQ(gc.gated_delta.conv_kernel, gd.conv_kernel);
    EXPECT_EQ(gc.gated_delta.v_heads_tiled, !next);
    for (int64_t l = 0; l < hc.num_layers; ++l) {
      EXPECT_EQ(gc.layers[l].linear_attention, hc.layers[l].linear_attention) << "layer " << l;
      EXPECT_EQ(gc.layers[l].moe, hc.layers[l].moe) << "layer " << l;
    }
    expect_same_moe(gc.moe, hc.moe);
    fs::remove(path);
  }
}

// Qwen3-Next files from llama.cpp's first converter carry HF's fused in_proj_qkvz as ssm_in (no
// attn_qkv / attn_gate): they open to the same tensors as the current layout.
TEST(GgufExport, LegacyQwen3NextSsmInOpensTheSame) {
  auto hf = open_model(test::fixture("qwen3_next"));
  auto raw = SafetensorsModel::open(test::fixture("qwen3_next"));
  const fs::path path = write_temp_gguf(*hf, "qwen3_next"), legacy = temp_file("qwen3_next_legacy");
  {
    auto file = GgufFile::open(path.string());
    GgufWriter w;
    w.copy_metadata(*file, "");
    for (const TensorView& t : file->tensors()) {
      if (t.name.ends_with(".attn_gate.weight")) continue;
      if (!t.name.ends_with(".attn_qkv.weight")) {
        w.add_tensor_view(t, t.name);
        continue;
      }
      const std::string layer = t.name.substr(4, t.name.find('.', 4) - 4);
      const TensorView& qkvz = *raw->tensor("model.layers." + layer + ".linear_attn.in_proj_qkvz.weight");
      w.add_tensor_view(qkvz, "blk." + layer + ".ssm_in.weight");
    }
    w.write(legacy.string());
  }
  auto now = open_model(path.string()), old = open_model(legacy.string());
  ASSERT_EQ(now->tensors().size(), old->tensors().size());
  for (const auto& [name, t] : now->tensors()) {
    const TensorView& o = old->get(name, t.shape);
    EXPECT_EQ(0, std::memcmp(o.data, t.data, t.nbytes)) << name;
  }
  fs::remove(path);
  fs::remove(legacy);
}

// Released Qwen3.5 GGUFs carry a multi-token-prediction layer after the model's own, counted in
// block_count (nextn_predict_layers, a full-attention entry in recurrent_layers): the model opens
// with its own layers only, the same tensors as without the extra layer.
TEST(GgufExport, HybridMultiTokenPredictionLayerIsSkipped) {
  auto hf = open_model(test::fixture("qwen3_5_text"));
  const fs::path path = write_temp_gguf(*hf, "qwen3_5_text"), mtp = temp_file("qwen3_5_text_mtp");
  {
    auto file = GgufFile::open(path.string());
    GgufWriter w;
    w.copy_metadata(*file, "");
    w.set_u32("qwen35.block_count", 5);
    w.set_u32("qwen35.nextn_predict_layers", 1);
    w.set_bools("qwen35.attention.recurrent_layers", {true, true, true, false, false});
    for (const TensorView& t : file->tensors()) {
      w.add_tensor_view(t, t.name);
      if (t.name.starts_with("blk.3.")) w.add_tensor_view(t, "blk.4." + t.name.substr(6));  // an attention layer
    }
    w.add_tensor_view(*file->tensor("output_norm.weight"), "blk.4.nextn.enorm.weight");
    w.write(mtp.string());
  }
  auto plain = open_model(path.string()), with_mtp = open_model(mtp.string());
  EXPECT_EQ(with_mtp->config().num_layers, 4);
  ASSERT_EQ(with_mtp->config().layers.size(), 4u);
  for (int64_t l = 0; l < 4; ++l)
    EXPECT_EQ(with_mtp->config().layers[l].linear_attention, plain->config().layers[l].linear_attention) << l;
  for (const auto& [name, t] : plain->tensors()) {
    const TensorView& o = with_mtp->get(name, t.shape);
    EXPECT_EQ(0, std::memcmp(o.data, t.data, t.nbytes)) << name;
  }
  fs::remove(path);
  fs::remove(mtp);
}

}  // namespace
}  // namespace ax
