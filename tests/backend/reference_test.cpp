// CPU reference ops (backend/cpu/reference.h) against direct float64 evaluations of their
// definitions, and the fast attention kernel against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/reference.h"
#include "util/thread_pool.h"
#include "util/error.h"
#include "util/half.h"
#include "test_support.h"

namespace ax::cpu::ref {
namespace {

using test::Rand;

// A weight tensor held in memory with the bytes of the requested dtype.
struct OwnedWeight {
  std::vector<uint8_t> bytes;
  TensorView view;
  std::vector<float> values;  // the exact float value of every stored element
};

OwnedWeight make_weight(DType t, int64_t rows, int64_t cols, const std::vector<float>& src) {
  OwnedWeight w;
  const size_t esize = t == DType::F32 ? 4 : 2;
  w.bytes.resize(static_cast<size_t>(rows * cols) * esize);
  w.values.resize(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (t == DType::F32) {
      std::memcpy(w.bytes.data() + 4 * i, &src[i], 4);
      w.values[i] = src[i];
    } else {
      const uint16_t h = t == DType::F16 ? f32_to_fp16(src[i]) : f32_to_bf16(src[i]);
      std::memcpy(w.bytes.data() + 2 * i, &h, 2);
      w.values[i] = t == DType::F16 ? fp16_to_f32(h) : bf16_to_f32(h);
    }
  }
  w.view.name = "test.weight";
  w.view.dtype = t;
  w.view.shape = {rows, cols};
  w.view.data = w.bytes.data();
  w.view.nbytes = w.bytes.size();
  return w;
}

TEST(Linear, ReferenceMatchesFloat64ForPlainTypes) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const int64_t out = 37, in = 67, n = 5;  // odd sizes: the unrolled dot's tail runs
    auto w = make_weight(t, out, in, r.normal(out * in));
    auto x = r.normal(n * in);
    std::vector<float> y(n * out);
    linear(w.view, x.data(), n, y.data());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t o = 0; o < out; ++o) {
        double want = 0, mag = 0;
        for (int64_t k = 0; k < in; ++k) {
          want += static_cast<double>(x[i * in + k]) * w.values[o * in + k];
          mag += std::abs(static_cast<double>(x[i * in + k]) * w.values[o * in + k]);
        }
        ASSERT_NEAR(y[i * out + o], want, 1e-6 * mag + 1e-7) << dtype_name(t) << " row " << i << " col " << o;
      }
  }
}

TEST(Linear, SplittingOverThreadsDoesNotChangeResults) {
  // The whole product goes through the thread pool (when there is more than one thread); slices of
  // 32 weight rows are small enough to run on the calling thread. Every value must agree bit for bit.
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed << ", threads " << default_threads());
  const int64_t out = 512, in = 1024, n = 3;
  auto w = make_weight(DType::F32, out, in, r.normal(out * in));
  auto x = r.normal(n * in);
  std::vector<float> whole(n * out), sliced(n * out), part(n * 32);
  linear(w.view, x.data(), n, whole.data(), default_threads());
  for (int64_t o = 0; o < out; o += 32) {
    TensorView slice = w.view;
    slice.shape = {32, in};
    slice.data = w.view.data + o * in * 4;
    slice.nbytes = 32 * in * 4;
    linear(slice, x.data(), n, part.data());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < 32; ++k) sliced[i * out + o + k] = part[i * 32 + k];
  }
  EXPECT_EQ(0, std::memcmp(whole.data(), sliced.data(), whole.size() * 4));
}

TEST(Embedding, LooksUpRowsAndRejectsBadIds) {
  Rand r;
  auto w = make_weight(DType::BF16, 10, 6, r.normal(60));
  const int32_t tokens[] = {3, 0, 9, 3};
  std::vector<float> out(4 * 6);
  embedding(w.view, tokens, 4, out.data());
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 6; ++k) EXPECT_EQ(out[i * 6 + k], w.values[tokens[i] * 6 + k]);
  const int32_t bad[] = {10};
  EXPECT_THROW(embedding(w.view, bad, 1, out.data()), ax::Error);
}

TEST(RmsNorm, MatchesDefinition) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  const int64_t n = 3, dim = 50;
  auto x = r.normal(n * dim, 3.0f), w = r.normal(dim);
  std::vector<float> y(n * dim);
  rms_norm(x.data(), w.data(), n, dim, 1e-5f, y.data());
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t k = 0; k < dim; ++k) ss += static_cast<double>(x[i * dim + k]) * x[i * dim + k];
    const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
    for (int64_t k = 0; k < dim; ++k) EXPECT_NEAR(y[i * dim + k], w[k] * x[i * dim + k] * inv, 1e-5);
  }
  rms_norm(x.data(), w.data(), n, dim, 1e-5f, x.data());  // in place gives the same
  EXPECT_EQ(x, y);
}

TEST(Softmax, SumsToOneAndKeepsOrder) {
  Rand r;
  auto x = r.normal(100, 10.0f);
  auto p = x;
  softmax(p.data(), 100);
  double sum = 0;
  for (int i = 0; i < 100; ++i) {
    sum += p[i];
    for (int j = 0; j < 100; ++j)
      if (x[i] < x[j]) {
        EXPECT_LE(p[i], p[j]);
      }
  }
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_NEAR(p[0] / p[1], std::exp(static_cast<double>(x[0]) - x[1]), 1e-3 * p[0] / p[1]);
}

TEST(Swiglu, MatchesDefinition) {
  Rand r;
  auto g = r.normal(20, 3.0f), u = r.normal(20);
  auto out = g;
  swiglu(out.data(), u.data(), 20);
  for (int i = 0; i < 20; ++i) EXPECT_NEAR(out[i], g[i] / (1 + std::exp(-static_cast<double>(g[i]))) * u[i], 1e-5);
}

// Paged attention: K/V of positions 0..P-1 scattered over shuffled blocks; the reference against a
// float64 evaluation over contiguous K/V, and the registered kernel against the reference.
TEST(Attention, ReferenceAndKernelMatchDefinitionThroughBlockTable) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  const int64_t heads = 6, kv_heads = 2, hd = 16, bs = 4, P = 37, T = 9, start = P - T;
  const int64_t kvw = kv_heads * hd, qw = heads * hd;
  const int64_t nblocks = (P + bs - 1) / bs;
  std::vector<int32_t> table(nblocks);
  for (int64_t b = 0; b < nblocks; ++b) table[b] = static_cast<int32_t>((b * 5 + 3) % (nblocks + 2));  // distinct, scattered
  auto kc = r.normal((nblocks + 2) * bs * kvw), vc = r.normal((nblocks + 2) * bs * kvw);
  auto q = r.normal(T * qw, 0.5f);
  // position-major blocks: [block][slot][kv head][dim]
  const PagedKvView kv{.k = kc.data(), .v = vc.data(), .block_table = table.data(), .block_size = bs,
                       .block_stride = bs * kvw, .head_stride = hd, .slot_stride = kvw};
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t window : {int64_t{0}, int64_t{8}}) {
    SCOPED_TRACE(::testing::Message() << "window " << window);
    std::vector<float> ref(T * qw, 1e9f), fast(T * qw, 1e9f);  // poisoned: must be overwritten
    AttentionCall c{.q = q.data(), .q_stride = qw, .T = T, .start_pos = start, .num_heads = heads,
                    .num_kv_heads = kv_heads, .head_dim = hd, .scale = scale, .window = window, .kv = kv,
                    .out = ref.data(), .out_stride = qw};
    attention(c);
    c.out = fast.data();
    kernels::attention(c);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t pos = start + t, first = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t g = h / (heads / kv_heads);
        std::vector<double> p;
        double mx = -1e300, sum = 0;
        for (int64_t j = first; j <= pos; ++j) {
          const float* kj = kc.data() + (table[j / bs] * bs + j % bs) * kvw + g * hd;
          double d = 0;
          for (int64_t i = 0; i < hd; ++i) d += static_cast<double>(q[t * qw + h * hd + i]) * kj[i];
          p.push_back(d * scale);
          mx = std::max(mx, p.back());
        }
        for (auto& x : p) sum += (x = std::exp(x - mx));
        for (int64_t i = 0; i < hd; ++i) {
          double want = 0;
          for (int64_t j = first; j <= pos; ++j)
            want += p[j - first] / sum * vc[(table[j / bs] * bs + j % bs) * kvw + g * hd + i];
          ASSERT_NEAR(ref[t * qw + h * hd + i], want, 1e-5) << "t " << t << " h " << h << " i " << i;
          ASSERT_NEAR(fast[t * qw + h * hd + i], want, 1e-5) << "kernel: t " << t << " h " << h << " i " << i;
        }
      }
    }
  }
}

RopeFreqs test_freqs(int64_t rotary_dim, bool adjacent) {
  RopeFreqs f;
  f.rotary_dim = rotary_dim;
  f.adjacent_pairs = adjacent;
  for (int64_t i = 0; i < rotary_dim / 2; ++i) f.inv_freq.push_back(std::pow(10000.0f, -2.0f * i / rotary_dim));
  return f;
}

TEST(Rope, RotateHalfMatchesDefinitionAndPassesTail) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  const int64_t heads = 3, hd = 16, rd = 8, pos = 37;
  auto f = test_freqs(rd, false);
  auto x = r.normal(heads * hd);
  auto y = x;
  rope(y.data(), heads, nullptr, 0, hd, pos, f);
  for (int64_t h = 0; h < heads; ++h) {
    const float* a = x.data() + h * hd;
    const float* b = y.data() + h * hd;
    for (int64_t i = 0; i < rd / 2; ++i) {
      const double ang = static_cast<double>(static_cast<float>(pos) * f.inv_freq[i]);
      EXPECT_NEAR(b[i], a[i] * std::cos(ang) - a[i + rd / 2] * std::sin(ang), 1e-5);
      EXPECT_NEAR(b[i + rd / 2], a[i + rd / 2] * std::cos(ang) + a[i] * std::sin(ang), 1e-5);
    }
    for (int64_t i = rd; i < hd; ++i) EXPECT_EQ(b[i], a[i]);  // partial rotary: the rest passes
  }
}

// A token's queries and keys rotated in one call (shared angles) equal two separate calls.
TEST(Rope, QueriesAndKeysTogetherEqualSeparateCalls) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  const int64_t hd = 32, pos = 301;
  for (bool adjacent : {false, true}) {
    auto f = test_freqs(hd, adjacent);
    auto q = r.normal(4 * hd), k = r.normal(2 * hd);
    auto q1 = q, k1 = k;
    rope(q.data(), 4, k.data(), 2, hd, pos, f);
    rope(q1.data(), 4, nullptr, 0, hd, pos, f);
    rope(k1.data(), 2, nullptr, 0, hd, pos, f);
    EXPECT_EQ(q, q1);
    EXPECT_EQ(k, k1);
  }
}

TEST(Rope, AdjacentPairsOnInterleavedRowsEqualsRotateHalf) {
  // The GGUF llama layout: a head stored interleaved (x0, x_h, x1, x_{h+1}, ...) rotated on
  // adjacent pairs gives the interleaving of the rotate-half result.
  Rand r;
  const int64_t hd = 12, pos = 1234;
  auto x = r.normal(hd);
  std::vector<float> inter(hd);
  for (int64_t i = 0; i < hd / 2; ++i) {
    inter[2 * i] = x[i];
    inter[2 * i + 1] = x[i + hd / 2];
  }
  rope(x.data(), 1, nullptr, 0, hd, pos, test_freqs(hd, false));
  rope(inter.data(), 1, nullptr, 0, hd, pos, test_freqs(hd, true));
  for (int64_t i = 0; i < hd / 2; ++i) {
    EXPECT_EQ(inter[2 * i], x[i]);
    EXPECT_EQ(inter[2 * i + 1], x[i + hd / 2]);
  }
}

TEST(Rope, ScoresDependOnlyOnRelativePosition) {
  Rand r;
  const int64_t hd = 16;
  auto f = test_freqs(hd, false);
  auto q = r.normal(hd), k = r.normal(hd);
  auto score = [&](int64_t m, int64_t n) {
    auto a = q, b = k;
    rope(a.data(), 1, nullptr, 0, hd, m, f);
    rope(b.data(), 1, nullptr, 0, hd, n, f);
    double s = 0;
    for (int64_t i = 0; i < hd; ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
  };
  EXPECT_NEAR(score(10, 3), score(107, 100), 1e-4);
  EXPECT_NEAR(score(5, 5), score(0, 0), 1e-4);
}

}  // namespace
}  // namespace ax::cpu::ref
