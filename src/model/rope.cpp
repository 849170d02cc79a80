#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "util/error.h"

namespace ax {
namespace {

// YaRN: the dimension index whose wavelength completes num_rotations turns over the original
// context (the correction-range bound of the YaRN paper).
double yarn_correction_dim(double num_rotations, double dim, double base, double original_ctx) {
  return dim * std::log(original_ctx / (num_rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
}

}  // namespace

RopeFreqs make_rope_freqs(const RopeConfig& rope, int64_t head_dim) {
  RopeFreqs f;
  f.rotary_dim = rope.rotary_dim > 0 ? rope.rotary_dim : head_dim;
  if (f.rotary_dim > head_dim || f.rotary_dim % 2 != 0)
    fail("rope: rotary_dim {} must be even and at most head_dim {}", f.rotary_dim, head_dim);
  if (!(rope.theta > 0.0f)) fail("rope: rope_theta {} must be positive", rope.theta);
  f.adjacent_pairs = rope.style == RopeStyle::AdjacentPairs;
  const int64_t half = f.rotary_dim / 2;
  const double dim = static_cast<double>(f.rotary_dim);

  // Default schedule: inv_freq[i] = 1 / theta^(2i / rotary_dim), each step in float32 as HF
  // computes it (so the angles match the reference to the last bit in most positions).
  std::vector<double> base(half);
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(f.rotary_dim);
    base[i] = 1.0f / powf(rope.theta, exponent);
  }

  const std::string& type = rope.scaling_type;
  const double factor = rope.factor;
  if (type != "default" && type != "" && !(factor > 0.0)) fail("rope: scaling factor {} must be positive", factor);
  f.inv_freq.resize(half);
  if (type == "default" || type.empty()) {
    for (int64_t i = 0; i < half; ++i) f.inv_freq[i] = static_cast<float>(base[i]);
  } else if (type == "proportional") {
    // Gemma 4's full layers: pairs (i, i + head_dim/2) over the whole head, the first
    // int(partial * head_dim / 2) of them at theta^(-2i / head_dim) / factor (the default schedule
    // of the whole head, computed the same way), the rest at frequency 0: cos 1, sin 0, unchanged.
    if (rope.rotary_dim != 0 && rope.rotary_dim != head_dim)
      fail("rope: proportional RoPE turns pairs of the whole head, not of {} of its {} dims", rope.rotary_dim,
           head_dim);
    const float partial = rope.partial_rotary_factor;
    if (!(partial > 0.0f && partial <= 1.0f)) fail("rope: partial_rotary_factor {} must be in (0, 1]", partial);
    const auto turning = static_cast<int64_t>(std::floor(static_cast<double>(partial) * head_dim / 2.0));
    for (int64_t i = 0; i < half; ++i) f.inv_freq[i] = i < turning ? static_cast<float>(base[i] / factor) : 0.0f;
  } else if (type == "linear") {
    // Positions divided by factor == frequencies divided by factor.
    for (int64_t i = 0; i < half; ++i) f.inv_freq[i] = static_cast<float>(base[i] / factor);
  } else if (type == "llama3") {
    // Long wavelengths (beyond original_ctx / low_freq_factor) are slowed by factor, short ones
    // (below original_ctx / high_freq_factor) are kept, and the band between is interpolated.
    if (rope.original_max_position <= 0) fail("rope: llama3 scaling needs original_max_position_embeddings");
    if (!(rope.high_freq_factor > rope.low_freq_factor))
      fail("rope: llama3 high_freq_factor {} must exceed low_freq_factor {}", rope.high_freq_factor, rope.low_freq_factor);
    const double old_ctx = static_cast<double>(rope.original_max_position);
    const double low_wavelen = old_ctx / rope.low_freq_factor;
    const double high_wavelen = old_ctx / rope.high_freq_factor;
    for (int64_t i = 0; i < half; ++i) {
      const double wavelen = 2.0 * std::numbers::pi / base[i];
      double v;
      if (wavelen < high_wavelen) {
        v = base[i];
      } else if (wavelen > low_wavelen) {
        v = base[i] / factor;
      } else {
        const double smooth = (old_ctx / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
        v = (1.0 - smooth) * base[i] / factor + smooth * base[i];
      }
      f.inv_freq[i] = static_cast<float>(v);
    }
  } else if (type == "yarn") {
    // Dimensions that turn more than beta_fast times over the original context keep their
    // frequency (extrapolate), those turning fewer than beta_slow times are divided by factor
    // (interpolate), with a linear ramp between; rotated values are scaled by attention_factor.
    if (rope.original_max_position <= 0) fail("rope: yarn scaling needs original_max_position_embeddings");
    const double ctx = static_cast<double>(rope.original_max_position);
    double low = yarn_correction_dim(rope.beta_fast, dim, rope.theta, ctx);
    double high = yarn_correction_dim(rope.beta_slow, dim, rope.theta, ctx);
    if (rope.yarn_truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, dim - 1.0);
    if (low == high) high += 0.001;  // avoid a zero-width ramp
    for (int64_t i = 0; i < half; ++i) {
      const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      const double extrapolation_weight = 1.0 - ramp;
      const double v = (base[i] / factor) * (1.0 - extrapolation_weight) + base[i] * extrapolation_weight;
      f.inv_freq[i] = static_cast<float>(v);
    }
    f.attention_factor = rope.attention_factor > 0.0f
                             ? rope.attention_factor
                             : static_cast<float>(factor <= 1.0 ? 1.0 : 0.1 * std::log(factor) + 1.0);
  } else {
    fail("rope: unsupported rope scaling type '{}'", type);
  }
  return f;
}

}  // namespace ax
