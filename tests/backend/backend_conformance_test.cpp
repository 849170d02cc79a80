// Every backend's ops against the CPU reference backend (the scalar float32 oracle) on fresh random
// inputs, and the batch-invariance contract (a row's result never depends on what else is in the
// call). Runs for the CPU's fast kernels and, where a GPU is present, for CUDA (skipped otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <tuple>
#include <vector>

#include "backend/backend.h"
#include "backend/kernel_test_data.h"
#include "backend/kv_cache.h"
#include "backend/step_input.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {
namespace {

using cpu::kernels::random_weights;
using cpu::kernels::view_of;

// A float32 tensor in a backend's memory.
struct DevTensor {
  DeviceBuffer buf;
  Tensor t;
};

DevTensor upload(Backend& be, const std::vector<float>& v, int64_t rows, int64_t cols) {
  DevTensor d;
  d.buf = be.alloc(v.size() * sizeof(float));
  be.copy_to_device(d.buf.data(), v.data(), v.size() * sizeof(float));
  d.t = Tensor{d.buf.as<float>(), rows, cols};
  return d;
}

DevTensor zeros(Backend& be, int64_t rows, int64_t cols) {
  return upload(be, std::vector<float>(static_cast<size_t>(rows * cols), std::nanf("")), rows, cols);
}

std::vector<float> download(Backend& be, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.size()));
  be.copy_to_host(v.data(), t.data, v.size() * sizeof(float));
  return v;
}

// ||got - want|| / ||want|| (NaN anywhere: infinity).
double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

std::vector<float> normal(std::mt19937& rng, size_t n, float sd = 1.0f) {
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda" && cuda_devices().empty()) GTEST_SKIP() << "no CUDA device on this machine";
    be_ = make_backend({.kind = GetParam(), .threads = 2});
    ref_ = make_backend({.kind = "cpu", .threads = 2, .reference = true});
    seed_ = std::random_device{}();
    rng_.seed(seed_);
  }
  bool cuda() const { return GetParam() == "cuda"; }
  // Relative error allowed for a linear of weight type t: CUDA multiplies f16 operands; the CPU's
  // quantized kernels see x quantized to 8 bits: what that moves the reference's own result
  // (quantized_effect: the reference run on x as those kernels see it) plus float rounding. (A fixed
  // 1.5e-2 failed about one run in six: with the Q4_K/Q5_K mins of random weights, outputs are
  // small differences of large terms, and a single row of 37 outputs gives a noisy norm.)
  double linear_tolerance(DType t, double quantized_effect) const {
    if (cuda() || dtype_info(t).block_size == 1) return fixed_tolerance(t);
    return quantized_effect + 1e-4;
  }
  // The same without the measured effect, for a whole MoE layer (its experts' inner activations are
  // quantized inside the call, out of the test's reach): a fixed 1.5e-2 for quantized weights,
  // steady there because the norm runs over every row's outputs.
  double fixed_tolerance(DType t) const {
    if (cuda()) return 3e-3;
    return dtype_info(t).block_size == 1 ? 1e-5 : 1.5e-2;
  }
  Tensor run(Backend& be, const StepInput& in, const KvCache& kv, const std::function<Tensor(const StepView&)>& f) {
    return be.run_step(in, kv, false, f);
  }

  std::unique_ptr<Backend> be_, ref_;
  uint32_t seed_ = 0;
  std::mt19937 rng_;
};

const DType kLinearTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                              DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q3_K, DType::MXFP4};

TEST_P(Conformance, LinearMatchesReferenceForEveryType) {
  for (DType t : kLinearTypes) {
    const int64_t bs = dtype_info(t).block_size;
    // Row counts off the 16-row groups; K of one chunk, several chunks, and (float types) not a
    // multiple of 256; n across the decode variants and the prefill tiles.
    const std::vector<std::pair<int64_t, int64_t>> shapes =
        bs == 1 ? std::vector<std::pair<int64_t, int64_t>>{{37, 172}, {64, 1024}, {300, 2304}}
                : bs == 32 ? std::vector<std::pair<int64_t, int64_t>>{{37, 96}, {64, 1024}, {300, 2304}}
                           : std::vector<std::pair<int64_t, int64_t>>{{37, 256}, {64, 1024}, {300, 2304}};
    for (auto [m, k] : shapes) {
      const auto w = random_weights(t, m, k, rng_);
      const TensorView v = view_of(t, w, m, k);
      auto wb = be_->load_linears({&v});
      auto wr = ref_->load_linears({&v});
      for (int64_t n : {1, 3, 9, 20, 33, 70}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(t) << " m=" << m << " k=" << k << " n=" << n << " seed=" << seed_);
        const auto x = normal(rng_, static_cast<size_t>(n * k));
        DevTensor xb = upload(*be_, x, n, k), yb = zeros(*be_, n, m);
        DevTensor xr = upload(*ref_, x, n, k), yr = zeros(*ref_, n, m);
        be_->linear(*wb[0], xb.t, yb.t);
        ref_->linear(*wr[0], xr.t, yr.t);
        be_->synchronize();
        const std::vector<float> want = download(*ref_, yr.t);
        const double e = rel_error(download(*be_, yb.t), want);
        // The reference on x rounded to the CPU kernels' 8-bit blocks (Q3_K: unchanged, no kernel).
        DevTensor xq = upload(*ref_, cpu::kernels::activation_view(t, x).x, n, k), yq = zeros(*ref_, n, m);
        ref_->linear(*wr[0], xq.t, yq.t);
        ASSERT_LE(e, linear_tolerance(t, rel_error(download(*ref_, yq.t), want)));
      }
    }
  }
}

// The determinism contract: each row of a linear is bit for bit the same whether it is computed
// alone, in small groups or among many rows (decode, verify and prefill shapes), and linear_many
// equals separate calls.
TEST_P(Conformance, LinearRowsAreBitIdenticalWhateverTheBatch) {
  for (DType t : kLinearTypes) {
    SCOPED_TRACE(::testing::Message() << dtype_name(t) << " seed=" << seed_);
    const int64_t m = 80, k = dtype_info(t).block_size == 32 ? 1536 : 2560, n = 77;
    const auto w = random_weights(t, m, k, rng_);
    const auto w2 = random_weights(t, m, k, rng_);
    const TensorView v = view_of(t, w, m, k), v2 = view_of(t, w2, m, k);
    auto ws = be_->load_linears({&v, &v2});
    const auto x = normal(rng_, static_cast<size_t>(n * k));
    DevTensor xb = upload(*be_, x, n, k), all = zeros(*be_, n, m), all2 = zeros(*be_, n, m);
    be_->linear(*ws[0], xb.t, all.t);
    const std::vector<float> whole = download(*be_, all.t);
    for (int64_t group : {1, 2, 5, 9, 33}) {
      DevTensor part = zeros(*be_, n, m);
      for (int64_t r0 = 0; r0 < n; r0 += group) {
        const int64_t g = std::min(group, n - r0);
        be_->linear(*ws[0], xb.t.slice_rows(r0, g), part.t.slice_rows(r0, g));
      }
      ASSERT_EQ(0, std::memcmp(whole.data(), download(*be_, part.t).data(), whole.size() * sizeof(float)))
          << "groups of " << group;
    }
    const Weight* both[] = {ws[0].get(), ws[1].get()};
    DevTensor m1 = zeros(*be_, n, m), m2 = zeros(*be_, n, m);
    const Tensor outs[] = {m1.t, m2.t};
    be_->linear_many(both, xb.t, outs);
    be_->linear(*ws[1], xb.t, all2.t);
    ASSERT_EQ(0, std::memcmp(whole.data(), download(*be_, m1.t).data(), whole.size() * sizeof(float)));
    const auto second = download(*be_, all2.t);
    ASSERT_EQ(0, std::memcmp(second.data(), download(*be_, m2.t).data(), second.size() * sizeof(float)));
  }
}

// A weight per head (MLA's absorbed projections): against the reference, each head's columns equal
// to linear() over those columns alone, and each row the same bits alone as among many rows.
TEST_P(Conformance, LinearHeadsMatchReferenceAndLinear) {
  struct Shape {
    int64_t heads, out, in;
  };
  for (DType t : {DType::F32, DType::F16, DType::Q8_0}) {
    // q_nope -> latent (out > in), latent -> v (out < in), 16-row groups and a ragged one
    for (Shape sh : {Shape{5, 64, 32}, Shape{3, 48, 96}, Shape{20, 37, 64}}) {
      const int64_t H = sh.heads, out = sh.out, in = sh.in;
      std::vector<std::vector<uint8_t>> bytes;
      std::vector<TensorView> views;
      for (int64_t h = 0; h < H; ++h) bytes.push_back(random_weights(t, out, in, rng_));
      for (int64_t h = 0; h < H; ++h) views.push_back(view_of(t, bytes[h], out, in));
      std::vector<const TensorView*> ptrs;
      for (const TensorView& v : views) ptrs.push_back(&v);
      auto wb = be_->load_linears(ptrs), wr = ref_->load_linears(ptrs);
      std::vector<const Weight*> hb, hr;
      for (int64_t h = 0; h < H; ++h) hb.push_back(wb[h].get()), hr.push_back(wr[h].get());
      for (int64_t n : {1, 9, 40}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(t) << " heads=" << H << " " << in << "->" << out << " n=" << n
                                          << " seed=" << seed_);
        const auto x = normal(rng_, static_cast<size_t>(n * H * in));
        DevTensor xb = upload(*be_, x, n, H * in), yb = zeros(*be_, n, H * out);
        DevTensor xr = upload(*ref_, x, n, H * in), yr = zeros(*ref_, n, H * out);
        be_->linear_heads(hb, xb.t, yb.t);
        ref_->linear_heads(hr, xr.t, yr.t);
        const auto got = download(*be_, yb.t);
        ASSERT_LE(rel_error(got, download(*ref_, yr.t)), fixed_tolerance(t));
        for (int64_t h : {int64_t{0}, H - 1}) {  // head h: linear() over its columns alone
          std::vector<float> xh;
          for (int64_t r = 0; r < n; ++r) xh.insert(xh.end(), x.begin() + (r * H + h) * in, x.begin() + (r * H + h + 1) * in);
          DevTensor xt = upload(*be_, xh, n, in), yt = zeros(*be_, n, out);
          be_->linear(*hb[h], xt.t, yt.t);
          const auto want = download(*be_, yt.t);
          for (int64_t r = 0; r < n; ++r)
            ASSERT_EQ(0, std::memcmp(want.data() + r * out, got.data() + (r * H + h) * out, out * sizeof(float)))
                << "head " << h << " row " << r;
        }
        DevTensor y1 = zeros(*be_, 1, H * out);  // the last row alone
        be_->linear_heads(hb, xb.t.slice_rows(n - 1, 1), y1.t);
        ASSERT_EQ(0, std::memcmp(download(*be_, y1.t).data(), got.data() + (n - 1) * H * out, H * out * sizeof(float)));
      }
    }
  }
}

TEST_P(Conformance, ConcatHeadsIsExact) {
  SCOPED_TRACE(::testing::Message() << "seed=" << seed_);
  for (auto [heads, da, db] : {std::tuple<int64_t, int64_t, int64_t>{1, 32, 8}, {4, 32, 8}, {3, 5, 2}}) {
    const int64_t n = 6;
    const auto a = normal(rng_, n * heads * da), b = normal(rng_, n * heads * db);
    DevTensor at = upload(*be_, a, n, heads * da), bt = upload(*be_, b, n, heads * db), o = zeros(*be_, n, heads * (da + db));
    be_->concat_heads(at.t, bt.t, heads, o.t);
    const auto got = download(*be_, o.t);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < da + db; ++i)
          ASSERT_EQ(got[(t * heads + h) * (da + db) + i],
                    i < da ? a[(t * heads + h) * da + i] : b[(t * heads + h) * db + i - da]);
  }
}

TEST_P(Conformance, CopyColumnsIsExact) {
  SCOPED_TRACE(::testing::Message() << "seed=" << seed_);
  for (auto [n, cols, col0, width] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{1, 64, 16, 16}, {37, 140, 0, 35},
                                      {5, 140, 105, 35}, {3, 8, 0, 8}}) {
    const auto x = normal(rng_, n * cols);
    DevTensor xt = upload(*be_, x, n, cols), o = zeros(*be_, n, width);
    be_->copy_columns(xt.t, col0, o.t);
    const auto got = download(*be_, o.t);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < width; ++c) ASSERT_EQ(got[r * width + c], x[r * cols + col0 + c]);
  }
  DevTensor xt = zeros(*be_, 2, 10), o = zeros(*be_, 2, 4);
  EXPECT_THROW(be_->copy_columns(xt.t, 7, o.t), Error);
}

TEST_P(Conformance, RowOpsMatchReference) {
  SCOPED_TRACE(::testing::Message() << "seed=" << seed_);
  const int64_t n = 7, dim = 200;
  const auto x = normal(rng_, n * dim, 3.0f), w = normal(rng_, dim), u = normal(rng_, n * dim), b = normal(rng_, dim);
  auto both = [&](auto&& op) {  // op(backend, x tensor, u tensor, w vec, b vec) on each backend
    std::vector<float> out[2];
    Backend* bes[] = {be_.get(), ref_.get()};
    for (int i = 0; i < 2; ++i) {
      DevTensor xt = upload(*bes[i], x, n, dim), ut = upload(*bes[i], u, n, dim);
      const DeviceVector wv = bes[i]->load_vector(w), bv = bes[i]->load_vector(b);
      op(*bes[i], xt.t, ut.t, wv, bv);
      out[i] = download(*bes[i], xt.t);
      const auto ud = download(*bes[i], ut.t);
      out[i].insert(out[i].end(), ud.begin(), ud.end());
    }
    return rel_error(out[0], out[1]);
  };
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor, const DeviceVector& w, const DeviceVector&) {
              be.rms_norm(x, w, 1e-5f, x);
            }),
            1e-6);
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor u, const DeviceVector& w, const DeviceVector&) {
              be.add_rms_norm(x, u, w, 1e-5f, u);  // x += u, u = norm(x)
            }),
            1e-6);
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor u, const DeviceVector&, const DeviceVector&) {
              be.glu(GluKind::Silu, x, u);
            }),
            1e-6);
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor u, const DeviceVector&, const DeviceVector&) {
              be.glu(GluKind::GeluTanh, x, u);
            }),
            1e-6);
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor u, const DeviceVector&, const DeviceVector&) {
              be.glu(GluKind::SiluClamped, x, u);
            }),
            1e-6);
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor, const DeviceVector&, const DeviceVector&) { be.scale(x, 0.37f); }), 0.0);
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor, const DeviceVector&, const DeviceVector&) { be.softcap(x, 2.5f); }),
            1e-6);
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor u, const DeviceVector&, const DeviceVector&) { be.add(x, u); }), 0.0);
  EXPECT_LE(both([](Backend& be, Tensor x, Tensor, const DeviceVector&, const DeviceVector& b) { be.add_bias(x, b); }), 0.0);
}

// Embedding rows of every type the backends store, RoPE at scattered positions (both pairings,
// partial rotary), and gathering logit rows, all through a step's uploaded arrays.
TEST_P(Conformance, StepOpsMatchReference) {
  const int64_t vocab = 40, T = 6;
  const std::vector<int32_t> tokens = {3, 39, 0, 17, 3, 25};
  std::vector<int32_t> table(64);
  std::iota(table.begin(), table.end(), 0);
  for (DType t : kLinearTypes) {
    SCOPED_TRACE(::testing::Message() << dtype_name(t) << " seed=" << seed_);
    const int64_t dim = dtype_info(t).block_size == 1 ? 72 : 512;
    const auto w = random_weights(t, vocab, dim, rng_);
    const TensorView v = view_of(t, w, vocab, dim);
    std::vector<float> out[2];
    Backend* bes[] = {be_.get(), ref_.get()};
    for (int i = 0; i < 2; ++i) {
      auto table_w = bes[i]->load_table(v);
      KvCache kv(*bes[i], {1, 1, 8}, 4, 16);
      StepInput in(16);
      in.add_sequence(tokens, 0, table);
      DevTensor e = zeros(*bes[i], T, dim);
      bes[i]->run_step(in, kv, false, [&](const StepView& s) {
        bes[i]->embedding(*table_w, s, e.t);
        return e.t;
      });
      out[i] = download(*bes[i], e.t);
    }
    // Exact dequantized rows, but where CUDA stores the table as f16 (float types, and the types it
    // dequantizes at load) and where its compiler fuses the scale multiply-adds.
    const bool f16_stored = dtype_info(t).block_size == 1 || t == DType::Q3_K;
    ASSERT_LE(rel_error(out[0], out[1]), !cuda() ? 0.0 : f16_stored && t != DType::F16 ? 1e-3 : 1e-6);
  }
  for (bool adjacent : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "rope adjacent=" << adjacent << " seed=" << seed_);
    RopeFreqs f;
    f.rotary_dim = 24;
    f.adjacent_pairs = adjacent;
    f.attention_factor = 1.1f;
    for (int64_t i = 0; i < 12; ++i) f.inv_freq.push_back(std::pow(10000.0f, -2.0f * i / 24));
    const int64_t hd = 32, qh = 4, kh = 2;
    const auto q = normal(rng_, T * qh * hd), k = normal(rng_, T * kh * hd);
    std::vector<float> outq[2], outk[2];
    Backend* bes[] = {be_.get(), ref_.get()};
    for (int i = 0; i < 2; ++i) {
      const RopeTable rt = bes[i]->load_rope(f);
      KvCache kv(*bes[i], {1, 1, 8}, 4, 16);
      StepInput in(16);
      in.add_sequence(std::vector<int32_t>(4, 1), 1000, std::vector<int32_t>(80, 0));  // positions 1000..1003
      in.add_sequence(std::vector<int32_t>(2, 1), 7, table);
      DevTensor qt = upload(*bes[i], q, T, qh * hd), kt = upload(*bes[i], k, T, kh * hd);
      bes[i]->run_step(in, kv, false, [&](const StepView& s) {
        bes[i]->rope(s, qt.t, qh, kt.t, kh, hd, rt);
        return qt.t;
      });
      outq[i] = download(*bes[i], qt.t);
      outk[i] = download(*bes[i], kt.t);
    }
    EXPECT_LE(rel_error(outq[0], outq[1]), 1e-6);
    EXPECT_LE(rel_error(outk[0], outk[1]), 1e-6);
  }
}

// Attention over a paged cache (blocks shuffled, several sequences, contexts past one segment,
// sliding windows, f16 and f32 caches) against the reference; and each token's output is bit for
// bit the same alone as in the whole step. Two shapes: GQA, and MLA's latent cache (one kv head
// whose K rows are [c_kv 512 | k_rope 64] and whose V is their c_kv prefix, 20 query heads).
TEST_P(Conformance, AttentionMatchesReferenceAndIsBatchInvariant) {
  struct Shape {
    int64_t heads, kv_heads, hd, v_in_k;
  };
  for (Shape shape : {Shape{8, 2, 64, 0}, Shape{20, 1, 576, 512}}) {
    const int64_t heads = shape.heads, kv_heads = shape.kv_heads, hd = shape.hd, bs = 16;
    const int64_t vd = shape.v_in_k > 0 ? shape.v_in_k : hd;
    const std::vector<int64_t> lens = {1, 37, 700, 1100};  // keys before the new tokens
    const std::vector<int64_t> news = {1, 5, 1, 3};        // new tokens per sequence
    int64_t blocks = 0;
    for (size_t s = 0; s < lens.size(); ++s) blocks += (lens[s] + news[s] + bs - 1) / bs;
    std::vector<int32_t> ids(blocks + 7);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng_);
    std::vector<std::vector<int32_t>> tables;
    int64_t next = 0;
    for (size_t s = 0; s < lens.size(); ++s) {
      const int64_t nb = (lens[s] + news[s] + bs - 1) / bs;
      tables.emplace_back(ids.begin() + next, ids.begin() + next + nb);
      next += nb;
    }
    // (cache type, window, soft-cap and sinks): plain, windowed, and Gemma 2 / gpt-oss options.
    struct Variant {
      KvType type;
      int64_t window;
      bool capped_with_sinks;
    };
    const auto sink_values = normal(rng_, heads, 2.0f);
    for (Variant var : {Variant{KvType::F16, 0, false}, Variant{KvType::F16, 300, false}, Variant{KvType::F32, 0, false},
                        Variant{KvType::F32, 300, false}, Variant{KvType::F16, 0, true}, Variant{KvType::F32, 300, true}}) {
      const KvType type = var.type;
      const int64_t window = var.window;
      {
        SCOPED_TRACE(::testing::Message() << "heads " << heads << "/" << kv_heads << " of " << hd << " (v " << vd << ") "
                                          << kv_type_name(type) << " window=" << window << " softcap+sinks="
                                          << var.capped_with_sinks << " seed=" << seed_);
        // The whole history of every sequence (prefix + new tokens) as random K/V rows.
        std::vector<std::vector<float>> kvals, vvals;
        for (size_t s = 0; s < lens.size(); ++s) {
          kvals.push_back(normal(rng_, (lens[s] + news[s]) * kv_heads * hd));
          vvals.push_back(normal(rng_, (lens[s] + news[s]) * kv_heads * hd));
        }
        int64_t T = 0;
        for (int64_t nt : news) T += nt;
        const auto q = normal(rng_, T * heads * hd, 0.3f);
        std::vector<float> out[2];
        Backend* bes[] = {be_.get(), ref_.get()};
        for (int i = 0; i < 2; ++i) {
          Backend& be = *bes[i];
          const DeviceVector sinks = be.load_vector(sink_values);
          AttentionParams p;
          p.num_heads = heads;
          p.num_kv_heads = kv_heads;
          p.head_dim = hd;
          p.v_head_dim = shape.v_in_k;
          p.scale = 1.0f / std::sqrt(float(hd));
          p.window = window;
          if (var.capped_with_sinks) {
            p.softcap = 4.0f;
            p.sinks = &sinks;
          }
          // Layer 1 of a cache whose layer 0 is wider (per-layer widths, Gemma 4): its pool must
          // start past layer 0's.
          KvShape ks{2, kv_heads, hd, shape.v_in_k};
          ks.layer_head_dims = {hd + 8, hd};
          KvCache kv(be, ks, static_cast<int64_t>(ids.size()), bs, type);
          // Prefixes through write_kv in one step of all their tokens, then the new tokens' step.
          StepInput pre(bs), step(bs);
          std::vector<float> pk, pv, nk, nv;
          for (size_t s = 0; s < lens.size(); ++s) {
            pre.add_sequence(std::vector<int32_t>(lens[s], 0), 0, tables[s]);
            pk.insert(pk.end(), kvals[s].begin(), kvals[s].begin() + lens[s] * kv_heads * hd);
            pv.insert(pv.end(), vvals[s].begin(), vvals[s].begin() + lens[s] * kv_heads * hd);
            step.add_sequence(std::vector<int32_t>(news[s], 0), lens[s], tables[s]);
            nk.insert(nk.end(), kvals[s].begin() + lens[s] * kv_heads * hd, kvals[s].end());
            nv.insert(nv.end(), vvals[s].begin() + lens[s] * kv_heads * hd, vvals[s].end());
          }
          DevTensor pkt = upload(be, pk, pre.num_tokens(), kv_heads * hd), pvt = upload(be, pv, pre.num_tokens(), kv_heads * hd);
          run(be, pre, kv, [&](const StepView& s) {
            be.write_kv(s, kv, 1, pkt.t, pvt.t);
            return pkt.t;
          });
          DevTensor nkt = upload(be, nk, T, kv_heads * hd), nvt = upload(be, nv, T, kv_heads * hd);
          DevTensor qt = upload(be, q, T, heads * hd), o = zeros(be, T, heads * vd);
          run(be, step, kv, [&](const StepView& s) {
            be.write_kv(s, kv, 1, nkt.t, nvt.t);
            be.attention(s, kv, 1, qt.t, o.t, p);
            return o.t;
          });
          out[i] = download(be, o.t);
          if (i == 1) continue;
          // Each sequence's last token alone: the same bits as in the whole step.
          int64_t row = 0;
          for (size_t s = 0; s < lens.size(); ++s) {
            row += news[s];
            StepInput one(bs);
            one.add_sequence(std::vector<int32_t>(1, 0), lens[s] + news[s] - 1, tables[s]);
            DevTensor q1 = upload(be, std::vector<float>(q.begin() + (row - 1) * heads * hd, q.begin() + row * heads * hd),
                                  1, heads * hd);
            DevTensor o1 = zeros(be, 1, heads * vd);
            run(be, one, kv, [&](const StepView& sv) {
              be.attention(sv, kv, 1, q1.t, o1.t, p);
              return o1.t;
            });
            const auto alone = download(be, o1.t);
            ASSERT_EQ(0, std::memcmp(alone.data(), out[0].data() + (row - 1) * heads * vd, alone.size() * sizeof(float)))
                << "sequence " << s << " alone";
          }
        }
        EXPECT_LE(rel_error(out[0], out[1]), cuda() ? 2e-3 : 1e-5);
      }
    }
  }
}

// Mixture of experts: routing and the experts' MLPs against the reference, and each row's result
// the same alone as among many rows.
TEST_P(Conformance, MoeMatchesReferenceAndRowsAreBatchInvariant) {
  const int64_t E = 6, H = 256, I = 256, T = 37;
  for (DType t : {DType::F32, DType::Q8_0, DType::Q4_K}) {
    SCOPED_TRACE(::testing::Message() << dtype_name(t) << " seed=" << seed_);
    std::vector<std::vector<uint8_t>> bytes;
    std::vector<TensorView> views;
    for (int64_t e = 0; e < E; ++e)
      for (auto [rows, cols] : {std::pair{I, H}, {I, H}, {H, I}}) bytes.push_back(random_weights(t, rows, cols, rng_));
    for (int64_t i = 0; i < 3 * E; ++i)
      views.push_back(view_of(t, bytes[i], i % 3 == 2 ? H : I, i % 3 == 2 ? I : H));
    std::vector<const TensorView*> ptrs;
    for (const TensorView& v : views) ptrs.push_back(&v);
    const auto x = normal(rng_, T * H), logits = normal(rng_, T * E, 2.0f);
    // Softmax top-k with SiLU; sigmoid group routing (with a selection bias) with GELU; gpt-oss's
    // top-k-then-softmax with the clamped SiLU.
    const auto bias = normal(rng_, E, 0.3f);
    for (GluKind act : {GluKind::Silu, GluKind::GeluTanh, GluKind::SiluClamped}) {
      MoeParams p;
      p.activation = act;
      p.routing.top_k = 2;
      p.routing.kind = act == GluKind::Silu       ? MoeRouting::SoftmaxTopK
                       : act == GluKind::GeluTanh ? MoeRouting::SigmoidGroupTopK
                                                  : MoeRouting::TopKSoftmax;
      p.routing.norm_topk_prob = act != GluKind::SiluClamped;
      p.routing.routed_scaling = act == GluKind::GeluTanh ? 2.5f : 1.0f;
      p.routing.n_group = act == GluKind::GeluTanh ? 2 : 1;
      if (act == GluKind::GeluTanh) p.routing.selection_bias = bias;
      std::vector<float> out[2];
      Backend* bes[] = {be_.get(), ref_.get()};
      for (int b = 0; b < 2; ++b) {
        auto ws = bes[b]->load_linears(ptrs);
        std::vector<MoeExpert> experts;
        for (int64_t e = 0; e < E; ++e) experts.push_back({ws[3 * e].get(), ws[3 * e + 1].get(), ws[3 * e + 2].get()});
        DevTensor xt = upload(*bes[b], x, T, H), lt = upload(*bes[b], logits, T, E), o = zeros(*bes[b], T, H);
        bes[b]->moe(xt.t, lt.t, experts, p, o.t);
        out[b] = download(*bes[b], o.t);
        if (b == 1) continue;
        for (int64_t r : {int64_t{0}, T / 2, T - 1}) {  // a row alone: the same bits as in the whole call
          DevTensor o1 = zeros(*bes[b], 1, H);
          bes[b]->moe(xt.t.slice_rows(r, 1), lt.t.slice_rows(r, 1), experts, p, o1.t);
          const auto alone = download(*bes[b], o1.t);
          ASSERT_EQ(0, std::memcmp(alone.data(), out[0].data() + r * H, H * sizeof(float))) << "row " << r;
        }
      }
      EXPECT_LE(rel_error(out[0], out[1]), fixed_tolerance(t) * 2);
    }
  }
}

std::vector<std::string> backends() { return {"cpu", "cuda"}; }

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, ::testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ax
