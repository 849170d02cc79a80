#include "model/gguf_config.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "format/gguf.h"
#include "model/architecture.h"
#include "util/error.h"

namespace ax {
namespace {

// A token id from tokenizer.ggml.*; absent or the u32 "none" value (0xFFFFFFFF) -> -1.
int64_t token_id(const GgufFile& f, const std::string& key) {
  const int64_t v = f.get_int_or(key, -1);
  return (v < 0 || v >= (int64_t{1} << 31)) ? -1 : v;
}

// Recovers llama3 RoPE parameters from llama.cpp's rope_freqs.weight divisors. The llama3 rule
// only depends on a line s(x) = a * x - b in x = 1 / wavelength, clamped to [0, 1] (1: keep the
// frequency, 0: divide it by factor), so low_freq_factor is fixed at 1 and the line gives
// high_freq_factor and original_max_position; with fewer than two points on the ramp, Llama 3's
// own high_freq_factor 4 is assumed. The result is checked against every stored divisor.
void infer_llama3_rope(const GgufFile& f, const TensorView& t, RopeConfig& r, int64_t rot) {
  const int64_t half = rot / 2;
  if (t.dtype != DType::F32 || t.shape != std::vector<int64_t>{half})
    fail("{}: tensor 'rope_freqs.weight' must be F32 of shape [{}]", f.path(), half);
  std::vector<double> div(static_cast<size_t>(half));
  double factor = 1.0;
  for (int64_t i = 0; i < half; ++i) {
    float v;
    std::memcpy(&v, t.data + 4 * i, 4);
    if (!(v >= 0.999f && v < 1e6f)) fail("{}: tensor 'rope_freqs.weight' holds divisor {} (at least 1 expected)", f.path(), v);
    div[static_cast<size_t>(i)] = v;
    factor = std::max(factor, static_cast<double>(v));
  }
  if (factor <= 1.0 + 1e-6) return;  // all ones: no scaling

  const double two_pi = 2.0 * 3.14159265358979323846;
  std::vector<double> x(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    x[static_cast<size_t>(i)] = (1.0f / std::pow(r.theta, static_cast<float>(2 * i) / static_cast<float>(rot))) / two_pi;
  std::vector<std::pair<double, double>> ramp;  // (x, s) strictly inside the ramp
  double need_at_least = 0, need_at_most = 1e300;  // bounds on original_max_position (high = 4 case)
  for (size_t i = 0; i < div.size(); ++i) {
    const double d = div[i];
    if (d <= 1.0 + 1e-6) {
      need_at_least = std::max(need_at_least, 4.0 / x[i]);
    } else if (d >= factor * (1 - 1e-6)) {
      need_at_most = std::min(need_at_most, 1.0 / x[i]);
    } else {
      ramp.emplace_back(x[i], (1.0 / d - 1.0 / factor) / (1.0 - 1.0 / factor));
    }
  }
  RopeConfig c = r;
  c.scaling_type = "llama3";
  c.factor = static_cast<float>(factor);
  c.low_freq_factor = 1.0f;
  double original = 0;
  if (ramp.size() >= 2) {
    double sx = 0, ss = 0, sxx = 0, sxs = 0;
    for (auto [xi, si] : ramp) {
      sx += xi;
      ss += si;
      sxx += xi * xi;
      sxs += xi * si;
    }
    const double n = static_cast<double>(ramp.size());
    const double a = (n * sxs - sx * ss) / (n * sxx - sx * sx);
    const double b = (a * sx - ss) / n;
    if (!(a > 0 && b > 0)) fail("{}: tensor 'rope_freqs.weight' does not follow the Llama 3 RoPE scaling rule", f.path());
    c.high_freq_factor = static_cast<float>(1.0 + 1.0 / b);
    original = a / b;
  } else {
    c.high_freq_factor = 4.0f;
    if (ramp.size() == 1) {
      original = (3.0 * ramp[0].second + 1.0) / ramp[0].first;
    } else {
      // Only the band edges constrain it: prefer a power of two inside them (8192 for Llama 3).
      original = std::sqrt(need_at_least * std::min(need_at_most, need_at_least * 16));
      for (double p = 1; p < 1e12; p *= 2)
        if (p >= need_at_least && p <= need_at_most) {
          original = p;
          break;
        }
    }
  }
  c.original_max_position = std::llround(original);
  const std::vector<float> check = llama3_rope_factors(c, rot);
  for (size_t i = 0; i < div.size(); ++i)
    if (std::abs(check[i] - div[i]) > 1e-4 * div[i])
      fail("{}: tensor 'rope_freqs.weight' does not follow the Llama 3 RoPE scaling rule (divisor {} is {}, the "
           "fitted rule gives {})", f.path(), i, div[i], check[i]);
  r = c;
}

}  // namespace

std::vector<float> llama3_rope_factors(const RopeConfig& r, int64_t rot) {
  const double two_pi = 2.0 * 3.14159265358979323846;
  const double old_ctx = static_cast<double>(r.original_max_position);
  const double low_wavelen = old_ctx / r.low_freq_factor, high_wavelen = old_ctx / r.high_freq_factor;
  std::vector<float> out(static_cast<size_t>(rot / 2));
  for (int64_t i = 0; i < rot / 2; ++i) {
    const double freq = 1.0f / std::pow(r.theta, static_cast<float>(2 * i) / static_cast<float>(rot));
    const double wavelen = two_pi / freq;
    double v;
    if (wavelen < high_wavelen) {
      v = 1.0;
    } else if (wavelen > low_wavelen) {
      v = r.factor;
    } else {
      const double smooth = (old_ctx / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
      v = 1.0 / ((1.0 - smooth) / r.factor + smooth);
    }
    out[static_cast<size_t>(i)] = static_cast<float>(v);
  }
  return out;
}

std::vector<bool> gguf_sliding_layers(const GgufFile& f, int64_t num_layers, int64_t default_period) {
  const std::string key = f.get_string("general.architecture") + ".attention.sliding_window_pattern";
  std::vector<bool> sliding(static_cast<size_t>(num_layers));
  const GgufValue* v = f.find(key);
  if (v != nullptr && v->type == GgufType::ARRAY) {
    const auto& items = v->as_array().items;
    if (static_cast<int64_t>(items.size()) != num_layers)
      fail("{}: metadata key '{}' has {} entries for {} layers", f.path(), key, items.size(), num_layers);
    for (size_t l = 0; l < items.size(); ++l) sliding[l] = items[l].as_int() != 0;
    return sliding;
  }
  const int64_t period = v != nullptr ? v->as_int() : default_period;
  if (period < 0) fail("{}: metadata key '{}' is negative", f.path(), key);
  for (int64_t l = 0; l < num_layers; ++l) sliding[l] = period == 0 || l % period < period - 1;
  return sliding;
}

ModelConfig gguf_model_config(const GgufFile& f) {
  ModelConfig m;
  const std::string a = f.get_string("general.architecture");
  const Architecture& arch = architecture_for_gguf(a, f.path());
  m.arch_name = arch.hf_model_types.front();
  const std::string p = a + ".";
  auto positive = [&](const std::string& key, int64_t v) {
    if (v <= 0) fail("{}: metadata key '{}' must be positive, got {}", f.path(), key, v);
    return v;
  };
  m.hidden_size = positive(p + "embedding_length", f.get_int(p + "embedding_length"));
  m.num_layers = positive(p + "block_count", f.get_int(p + "block_count"));
  m.intermediate_size = f.get_int_or(p + "feed_forward_length", 0);
  if (m.intermediate_size < 0) fail("{}: metadata key '{}feed_forward_length' is negative", f.path(), p);
  m.num_heads = positive(p + "attention.head_count", f.get_int(p + "attention.head_count"));
  m.num_kv_heads = positive(p + "attention.head_count_kv", f.get_int_or(p + "attention.head_count_kv", m.num_heads));
  if (m.num_heads % m.num_kv_heads != 0)
    fail("{}: attention.head_count {} is not a multiple of attention.head_count_kv {}", f.path(),
         m.num_heads, m.num_kv_heads);
  if (!f.find(p + "attention.key_length") && m.hidden_size % m.num_heads != 0)
    fail("{}: embedding_length {} is not a multiple of attention.head_count {}", f.path(), m.hidden_size, m.num_heads);
  m.head_dim = positive(p + "attention.key_length", f.get_int_or(p + "attention.key_length", m.hidden_size / m.num_heads));
  // Latent-attention files (attention.kv_lora_rank) give the latent's widths here; their
  // architecture reads the head sizes.
  if (f.get_int_or(p + "attention.value_length", m.head_dim) != m.head_dim && !f.find(p + "attention.kv_lora_rank"))
    fail("{}: attention.value_length differs from attention.key_length (not supported)", f.path());
  m.max_position_embeddings = f.get_int_or(p + "context_length", 0);
  m.rms_norm_eps = static_cast<float>(f.get_float_or(p + "attention.layer_norm_rms_epsilon", 1e-5));

  // Vocabulary: the explicit key, else the token list, else the embedding's rows.
  if (f.find(p + "vocab_size")) {
    m.vocab_size = f.get_int(p + "vocab_size");
  } else if (const GgufValue* toks = f.find("tokenizer.ggml.tokens"); toks && toks->type == GgufType::ARRAY) {
    m.vocab_size = static_cast<int64_t>(toks->as_array().items.size());
  } else if (const TensorView* e = f.tensor("token_embd.weight"); e && e->shape.size() == 2) {
    m.vocab_size = e->shape[0];
  }
  positive("vocab size", m.vocab_size);

  RopeConfig& r = m.rope;
  r.style = RopeStyle::RotateHalf;  // llama.cpp's NEOX mode; "normal" mode architectures say so in from_gguf
  r.theta = static_cast<float>(f.get_float_or(p + "rope.freq_base", 10000.0));
  if (!(r.theta > 0)) fail("{}: metadata key '{}rope.freq_base' must be positive", f.path(), p);
  const int64_t rot = f.get_int_or(p + "rope.dimension_count", m.head_dim);
  if (rot <= 0 || rot > m.head_dim || rot % 2 != 0)
    fail("{}: metadata key '{}rope.dimension_count' is {}, not an even number up to head size {}", f.path(), p,
         rot, m.head_dim);
  r.rotary_dim = rot == m.head_dim ? 0 : static_cast<int>(rot);
  const std::string scaling = f.get_string_or(p + "rope.scaling.type", "none");
  const double factor = f.get_float_or(p + "rope.scaling.factor", f.get_float_or(p + "rope.scale_linear", 1.0));
  if (scaling == "none" && factor == 1.0) {
    r.scaling_type = "default";
  } else if (scaling == "linear" || (scaling == "none" && f.find(p + "rope.scale_linear"))) {
    r.scaling_type = "linear";
    r.factor = static_cast<float>(factor);
  } else if (scaling == "yarn") {
    r.scaling_type = "yarn";
    r.factor = static_cast<float>(factor);
    r.original_max_position = f.get_int_or(p + "rope.scaling.original_context_length", m.max_position_embeddings);
    r.beta_fast = static_cast<float>(f.get_float_or(p + "rope.scaling.yarn_beta_fast", 32.0));
    r.beta_slow = static_cast<float>(f.get_float_or(p + "rope.scaling.yarn_beta_slow", 1.0));
    r.attention_factor = static_cast<float>(f.get_float_or(p + "rope.scaling.attn_factor", 0.0));
  } else if (scaling != "none") {
    fail("{}: metadata key '{}rope.scaling.type' is '{}' (supported: none, linear, yarn)", f.path(), p, scaling);
  }
  if (!(r.factor > 0)) fail("{}: metadata key '{}rope.scaling.factor' must be positive", f.path(), p);
  // Gemma 4's rope_freqs marks which pairs of its full layers turn (its architecture reads it).
  if (const TensorView* freqs = f.tensor("rope_freqs.weight"); freqs && r.scaling_type == "default" && a != "gemma4")
    infer_llama3_rope(f, *freqs, r, rot);

  m.tie_word_embeddings = f.tensor("output.weight") == nullptr;
  m.layers.assign(static_cast<size_t>(m.num_layers), LayerConfig{0, m.rope, false});

  m.bos_token_id = token_id(f, "tokenizer.ggml.bos_token_id");
  m.pad_token_id = token_id(f, "tokenizer.ggml.padding_token_id");
  // End of generation: EOS, plus end-of-turn / end-of-message where the file names them.
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    const int64_t id = token_id(f, key);
    if (id >= 0 && std::find(m.eos_token_ids.begin(), m.eos_token_ids.end(), id) == m.eos_token_ids.end())
      m.eos_token_ids.push_back(id);
  }
  arch.from_gguf(f, m);
  return m;
}

}  // namespace ax
