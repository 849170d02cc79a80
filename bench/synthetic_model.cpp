// Writes a random-weight GGUF with the exact shapes of a real model, carrying that model family's
// real tokenizer (copied from a vocabulary GGUF). Used by the llama.cpp cross-check
// (scripts/crosscheck-llama-cpp.sh) and the speed benchmarks: same file, both engines.
//
//   synthetic_model --shape qwen3-0.6b --vocab ../shared/models/llamacpp-vocab/ggml-vocab-qwen2.gguf
//                   --type F16 --out /tmp/qwen3-0.6b-f16.gguf [--seed 1]
//
// The gated-delta hybrid qwen3.5-0.8b is written as llama.cpp's qwen35 (with the qwen35 vocabulary,
// ggml-vocab-qwen35.gguf: 151,936 tokens, where the released model's embedding has 248,320 rows).
// Its multi-token-prediction layer is left out (neither engine runs it).
//
// Weights: matrices ~ N(0, 0.02^2) (as HF initialises them), norm weights ~ 1 + N(0, 0.1^2), so
// activations stay in a realistic range through every layer.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <string>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "util/error.h"

namespace {

constexpr const char* kShapeNames = "qwen3-0.6b, qwen3-4b, llama-3.2-1b, llama-3.1-8b, qwen3-30b-a3b, qwen3.5-0.8b";

struct Shape {
  std::string arch;  // GGUF general.architecture
  int64_t vocab, hidden, ffn, layers, heads, kv_heads, head_dim, context;
  double rope_theta, rms_eps;
  bool qk_norm;
  // Llama 3 RoPE scaling (factor, low, high, original context); factor 0 = none.
  double llama3_factor = 0, llama3_low = 1, llama3_high = 4, llama3_orig = 8192;
  bool tied = true;  // false: an output.weight of its own (lm_head)
  // Mixture of experts in every layer (0: dense): experts, experts per token, each one's FFN width.
  int64_t experts = 0, experts_used = 0, expert_ffn = 0;
  // Gated-delta hybrid (qwen35; 0: none): every full_attention_interval-th layer is gated softmax
  // attention, the others gated-delta linear attention with these key / value heads of these sizes.
  int64_t full_attention_interval = 0, linear_k_heads = 0, linear_v_heads = 0, linear_head_dim = 0, conv_kernel = 0;
  int64_t rotary_dim = 0;  // RoPE on the first rotary_dim of each head (0: all of it)
  bool hybrid() const { return full_attention_interval > 0; }
  bool linear_layer(int64_t l) const { return hybrid() && (l + 1) % full_attention_interval != 0; }
};

// Published configs of the real models (config.json on their model cards).
Shape shape_by_name(const std::string& name) {
  if (name == "qwen3-0.6b")
    return {"qwen3", 151936, 1024, 3072, 28, 16, 8, 128, 40960, 1e6, 1e-6, true};
  if (name == "qwen3-4b")
    return {"qwen3", 151936, 2560, 9728, 36, 32, 8, 128, 40960, 1e6, 1e-6, true};
  if (name == "llama-3.2-1b")
    return {"llama", 128256, 2048, 8192, 16, 32, 8, 64, 131072, 5e5, 1e-5, false, 32, 1, 4, 8192};
  if (name == "llama-3.1-8b")
    return {"llama", 128256, 4096, 14336, 32, 32, 8, 128, 131072, 5e5, 1e-5, false, 8, 1, 4, 8192, false};
  if (name == "qwen3-30b-a3b") {  // 128 experts of width 768, 8 per token
    Shape s{"qwen3moe", 151936, 2048, 6144, 48, 32, 4, 128, 40960, 1e6, 1e-6, true};
    s.tied = false;
    s.experts = 128, s.experts_used = 8, s.expert_ffn = 768;
    return s;
  }
  if (name == "qwen3.5-0.8b") {  // text_config of Qwen/Qwen3.5-0.8B (its vision tower left out)
    Shape s{"qwen35", 248320, 1024, 3584, 24, 8, 2, 256, 262144, 1e7, 1e-6, true};
    s.full_attention_interval = 4;
    s.linear_k_heads = 16, s.linear_v_heads = 16, s.linear_head_dim = 128, s.conv_kernel = 4;
    s.rotary_dim = 64;  // partial_rotary_factor 0.25
    return s;
  }
  ax::fail("--shape '{}' is not known ({})", name, kShapeNames);
}

// Llama 3 frequency factors as llama.cpp stores them (rope_freqs.weight, one per rotated pair):
// the divisor applied to each base frequency.
std::vector<float> llama3_freq_factors(const Shape& s) {
  std::vector<float> f(s.head_dim / 2);
  const double low_wavelen = s.llama3_orig / s.llama3_low;
  const double high_wavelen = s.llama3_orig / s.llama3_high;
  for (int64_t i = 0; i < s.head_dim / 2; ++i) {
    const double freq = 1.0 / std::pow(s.rope_theta, 2.0 * i / s.head_dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      f[i] = 1.0f;
    } else if (wavelen > low_wavelen) {
      f[i] = static_cast<float>(s.llama3_factor);
    } else {
      const double smooth = (s.llama3_orig / wavelen - s.llama3_low) / (s.llama3_high - s.llama3_low);
      f[i] = static_cast<float>(1.0 / ((1 - smooth) / s.llama3_factor + smooth));
    }
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Random-weight GGUF of a real model's shape"};
  std::string shape_name, vocab_path, type_name = "F16", out;
  uint64_t seed = 1;
  int64_t layers_override = 0;
  app.add_option("--shape", shape_name, kShapeNames)->required();
  app.add_option("--vocab", vocab_path, "GGUF whose tokenizer.* metadata is copied")->required();
  app.add_option("--type", type_name, "tensor type of the matrices: F32, F16, BF16, Q8_0, Q4_0");
  app.add_option("--out", out, "output .gguf")->required();
  app.add_option("--seed", seed, "RNG seed");
  app.add_option("--layers", layers_override, "override the layer count (smaller test files)");
  CLI11_PARSE(app, argc, argv);
  try {
    Shape s = shape_by_name(shape_name);
    if (layers_override > 0) s.layers = layers_override;
    const auto type = ax::dtype_from_name(type_name);
    if (!type) ax::fail("--type '{}' is not a tensor type", type_name);
    auto vocab = ax::GgufFile::open(vocab_path);

    ax::GgufWriter w;
    const std::string p = s.arch + ".";
    w.set_string("general.architecture", s.arch);
    w.set_string("general.name", "synthetic " + shape_name);
    w.set_u32(p + "context_length", static_cast<uint32_t>(s.context));
    w.set_u32(p + "embedding_length", static_cast<uint32_t>(s.hidden));
    w.set_u32(p + "feed_forward_length", static_cast<uint32_t>(s.ffn));
    w.set_u32(p + "block_count", static_cast<uint32_t>(s.layers));
    w.set_u32(p + "attention.head_count", static_cast<uint32_t>(s.heads));
    w.set_u32(p + "attention.head_count_kv", static_cast<uint32_t>(s.kv_heads));
    w.set_u32(p + "attention.key_length", static_cast<uint32_t>(s.head_dim));
    w.set_u32(p + "attention.value_length", static_cast<uint32_t>(s.head_dim));
    const int64_t rotary = s.rotary_dim > 0 ? s.rotary_dim : s.head_dim;
    w.set_u32(p + "rope.dimension_count", static_cast<uint32_t>(rotary));
    w.set_f32(p + "rope.freq_base", static_cast<float>(s.rope_theta));
    w.set_f32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(s.rms_eps));
    if (s.experts > 0) {
      w.set_u32(p + "expert_count", static_cast<uint32_t>(s.experts));
      w.set_u32(p + "expert_used_count", static_cast<uint32_t>(s.experts_used));
      w.set_u32(p + "expert_feed_forward_length", static_cast<uint32_t>(s.expert_ffn));
    }
    if (s.hybrid()) {  // the layout of llama.cpp's converter (src/model/arch_qwen3_next.cpp reads it)
      w.set_u32(p + "full_attention_interval", static_cast<uint32_t>(s.full_attention_interval));
      w.set_u32(p + "ssm.conv_kernel", static_cast<uint32_t>(s.conv_kernel));
      w.set_u32(p + "ssm.state_size", static_cast<uint32_t>(s.linear_head_dim));
      w.set_u32(p + "ssm.group_count", static_cast<uint32_t>(s.linear_k_heads));
      w.set_u32(p + "ssm.time_step_rank", static_cast<uint32_t>(s.linear_v_heads));
      w.set_u32(p + "ssm.inner_size", static_cast<uint32_t>(s.linear_v_heads * s.linear_head_dim));
      // M-RoPE sections over the rotary pairs (for text all positions are the token's: plain RoPE).
      const auto pairs = static_cast<int32_t>(rotary / 2);
      w.set_i32s(p + "rope.dimension_sections", {(pairs + 2) / 3, (pairs + 1) / 3, pairs / 3, 0});
    }
    w.set_u32("general.file_type", type == ax::DType::F32 ? 0 : 1);
    w.copy_metadata(*vocab, "tokenizer.");
    // The embedding has one row per token of the copied vocabulary (llama.cpp requires it); real
    // checkpoints pad a few rows more (Qwen3: 151936 vs 151669 tokens), which changes nothing here.
    const ax::GgufValue* tokens = vocab->find("tokenizer.ggml.tokens");
    if (!tokens) ax::fail("{}: no tokenizer.ggml.tokens array", vocab_path);
    s.vocab = static_cast<int64_t>(tokens->as_array().items.size());
    w.set_u32(p + "vocab_size", static_cast<uint32_t>(s.vocab));

    // Every tensor gets its own deterministic stream, so files differ only where they should.
    uint64_t stream = 0;
    // shape: {rows, cols}, or {experts, rows, cols} for stacked expert matrices (rows counted over
    // all experts in the fill).
    auto tensor = [&](const std::string& name, const std::vector<int64_t>& shape, ax::DType t) {
      const int64_t cols = shape.back();
      const uint64_t my = seed * 1000003 + stream++;
      // Each row its own stream, so the rows of a chunk fill in parallel (an 8B model has 8
      // billion values) and the file does not depend on the thread count.
      w.add_tensor_fill(name, t, shape, [my, cols](int64_t r0, int64_t n, float* v) {
        const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(n, std::thread::hardware_concurrency()));
        std::vector<std::thread> pool;
        for (int64_t th = 0; th < threads; ++th)
          pool.emplace_back([=] {
            for (int64_t r = th; r < n; r += threads) {
              std::mt19937_64 rng(my ^ (static_cast<uint64_t>(r0 + r) * 0x9E3779B97F4A7C15ull));
              std::normal_distribution<float> d(0.0f, 0.02f);
              for (int64_t i = 0; i < cols; ++i) v[r * cols + i] = d(rng);
            }
          });
        for (auto& t : pool) t.join();
      });
    };
    auto matrix = [&](const std::string& name, int64_t rows, int64_t cols, ax::DType t) {
      tensor(name, {rows, cols}, t);
    };
    // A float32 vector, each value f(z) of a standard normal draw z.
    auto vector = [&](const std::string& name, int64_t n, auto f) {
      std::mt19937_64 rng(seed * 1000003 + stream++);
      std::normal_distribution<float> d(0.0f, 1.0f);
      std::vector<float> v(n);
      for (auto& x : v) x = f(d(rng));
      w.add_tensor(name, ax::DType::F32, {n}, v);
    };
    auto norm = [&](const std::string& name, int64_t n) { vector(name, n, [](float z) { return 1.0f + 0.1f * z; }); };
    // Embeddings stay in the chosen type; llama.cpp keeps the tied output matrix as given.
    matrix("token_embd.weight", s.vocab, s.hidden, *type);
    if (s.llama3_factor > 0) w.add_tensor("rope_freqs.weight", ax::DType::F32, {s.head_dim / 2}, llama3_freq_factors(s));
    for (int64_t l = 0; l < s.layers; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      norm(b + "attn_norm.weight", s.hidden);
      if (s.linear_layer(l)) {
        // Gated-delta linear attention: q, k (key heads) and v (value heads) in one projection
        // [q | k | v], the output gate z, per value head beta and alpha (decay) rows, the causal
        // conv over the q/k/v channels (float32, as converters keep it, squeezed to [C, K]),
        // dt_bias, ssm_a = -exp(A_log) (negative; A_log ~ 1 + 0.5 z here), the gated norm
        // (plain w) and out_proj. Random rows need no reordering into llama.cpp's tiled value-head
        // order: any order of them is the same distribution.
        const int64_t key = s.linear_k_heads * s.linear_head_dim, value = s.linear_v_heads * s.linear_head_dim;
        matrix(b + "attn_qkv.weight", 2 * key + value, s.hidden, *type);
        matrix(b + "attn_gate.weight", value, s.hidden, *type);
        matrix(b + "ssm_beta.weight", s.linear_v_heads, s.hidden, *type);
        matrix(b + "ssm_alpha.weight", s.linear_v_heads, s.hidden, *type);
        matrix(b + "ssm_conv1d.weight", 2 * key + value, s.conv_kernel, ax::DType::F32);
        vector(b + "ssm_dt.bias", s.linear_v_heads, [](float z) { return 0.1f * z; });
        vector(b + "ssm_a", s.linear_v_heads, [](float z) { return -std::exp(1.0f + 0.5f * z); });
        norm(b + "ssm_norm.weight", s.linear_head_dim);
        matrix(b + "ssm_out.weight", s.hidden, value, *type);
      } else {
        // A hybrid's gated attention: per head its query rows, then its output gate rows.
        matrix(b + "attn_q.weight", (s.hybrid() ? 2 : 1) * s.heads * s.head_dim, s.hidden, *type);
        matrix(b + "attn_k.weight", s.kv_heads * s.head_dim, s.hidden, *type);
        matrix(b + "attn_v.weight", s.kv_heads * s.head_dim, s.hidden, *type);
        matrix(b + "attn_output.weight", s.hidden, s.heads * s.head_dim, *type);
        if (s.qk_norm) {
          norm(b + "attn_q_norm.weight", s.head_dim);
          norm(b + "attn_k_norm.weight", s.head_dim);
        }
      }
      norm(b + (s.hybrid() ? "post_attention_norm.weight" : "ffn_norm.weight"), s.hidden);
      if (s.experts > 0) {
        // The router stays float32, as converters keep it.
        matrix(b + "ffn_gate_inp.weight", s.experts, s.hidden, ax::DType::F32);
        tensor(b + "ffn_gate_exps.weight", {s.experts, s.expert_ffn, s.hidden}, *type);
        tensor(b + "ffn_up_exps.weight", {s.experts, s.expert_ffn, s.hidden}, *type);
        tensor(b + "ffn_down_exps.weight", {s.experts, s.hidden, s.expert_ffn}, *type);
      } else {
        matrix(b + "ffn_gate.weight", s.ffn, s.hidden, *type);
        matrix(b + "ffn_up.weight", s.ffn, s.hidden, *type);
        matrix(b + "ffn_down.weight", s.hidden, s.ffn, *type);
      }
    }
    norm("output_norm.weight", s.hidden);
    if (!s.tied) matrix("output.weight", s.vocab, s.hidden, *type);
    w.write(out);
    std::printf("wrote %s (%s, %lld layers, %s)\n", out.c_str(), shape_name.c_str(),
                static_cast<long long>(s.layers), type_name.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
