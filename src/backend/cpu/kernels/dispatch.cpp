// Picks the kernel table for the CPU at run time, prepares the activations once per matmul and
// splits the output rows over the thread pool.
#include <atomic>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/reference.h"
#include "backend/cpu/kernels/isa_kernels.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/kernels/packed.h"
#include "backend/cpu/kernels/packed_kernels.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace ax::cpu::kernels {
namespace {

RowsFn rows_for(const IsaKernels& t, DType dt) {
  switch (dt) {
    case DType::F32: return t.f32;
    case DType::F16: return t.f16;
    case DType::BF16: return t.bf16;
    case DType::Q8_0: return t.q8_0;
    case DType::Q4_0: return t.q4_0;
    case DType::Q4_K: return t.q4_k;
    case DType::Q5_K: return t.q5_k;
    case DType::Q6_K: return t.q6_k;
    case DType::MXFP4: return t.mxfp4;
    default: return nullptr;
  }
}

enum class ActKind { Float, Q8Block32, Q8Block256 };

ActKind act_kind(DType dt) {
  switch (dt) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::MXFP4: return ActKind::Q8Block32;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return ActKind::Q8Block256;
    default: return ActKind::Float;
  }
}

// Per-thread scratch for quantized activations, reused across calls (no allocation per token once
// warm). Only the calling thread of matmul touches it.
struct ActScratch {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int16_t> s;
};
thread_local ActScratch t_scratch;

}  // namespace

Isa best_isa() {
  static const Isa best = [] {
    Isa cap = Isa::Avx512;
    const char* env = std::getenv("AX_CPU_TIER");
    if (env != nullptr && *env != '\0' && !isa_from_name(env, &cap))
      fail("AX_CPU_TIER={}: expected one of scalar, avx2, avx2-vnni, avx512", env);
    // The widest supported tier at or below the cap (the tiers are not nested: Zen 4 and Ice Lake
    // have AVX-512 but not AVX-VNNI).
    for (int t = static_cast<int>(cap); t > 0; --t)
      if (isa_supported(static_cast<Isa>(t))) return static_cast<Isa>(t);
    return Isa::Scalar;
  }();
  return best;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx2Vnni: return "avx2-vnni";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

bool isa_from_name(const std::string& name, Isa* isa) {
  for (Isa t : {Isa::Scalar, Isa::Avx2, Isa::Avx2Vnni, Isa::Avx512})
    if (name == isa_name(t)) {
      *isa = t;
      return true;
    }
  return false;
}

bool isa_supported(Isa isa) {
  const auto& f = cpu_features();
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return f.has_avx2_tier();
    case Isa::Avx2Vnni: return f.has_avx2_tier() && f.avx_vnni;
    case Isa::Avx512: return f.has_avx512_tier();
  }
  return false;
}

std::string kernel_tier() {
  std::string s = isa_name(best_isa());
  if (best_isa() == Isa::Avx512 && amx_enabled() && packed_amx_kernels() != nullptr) s += "+amx";
  return s;
}

std::string kernel_tier_description() {
  std::string s;
  switch (best_isa()) {
    case Isa::Scalar: s = "scalar reference"; break;
    case Isa::Avx2: s = "avx2 packed tiles (vpmaddubsw)"; break;
    case Isa::Avx2Vnni: s = "avx2-vnni packed tiles (256-bit vpdpbusd)"; break;
    case Isa::Avx512: s = kernel_tier() == "avx512+amx" ? "avx512-vnni packed tiles + AMX-INT8" : "avx512-vnni packed tiles"; break;
  }
  Isa widest = Isa::Scalar;
  for (Isa t : {Isa::Avx2, Isa::Avx2Vnni, Isa::Avx512})
    if (isa_supported(t)) widest = t;
  if (widest != best_isa()) s += fmt::format(" (capped by AX_CPU_TIER; this CPU runs {})", isa_name(widest));
  return s;
}

const IsaKernels* isa_kernels(Isa isa) {
  if (!isa_supported(isa)) return nullptr;
  switch (isa) {
    case Isa::Avx2:
    case Isa::Avx2Vnni: return &avx2_kernels();
    case Isa::Avx512: return &avx512_kernels();
    case Isa::Scalar: return nullptr;
  }
  return nullptr;
}

bool has_fast_path(DType t, Isa isa) {
  const IsaKernels* table = isa_kernels(isa);
  return table != nullptr && rows_for(*table, t) != nullptr;
}

bool matmul(DType wtype, const uint8_t* w, int64_t out, int64_t in, const float* x, int64_t n,
            float* y, Isa isa, ThreadPool* pool, bool batch_invariant) {
  const IsaKernels* table = isa_kernels(isa);
  if (table == nullptr) return false;
  const RowsFn rows = rows_for(*table, wtype);
  if (rows == nullptr) return false;
  const auto& info = dtype_info(wtype);
  if (in % info.block_size != 0)
    fail("matmul: input width {} is not a multiple of the {} block size {}", in, info.name,
         info.block_size);
  if (out <= 0 || n <= 0) return true;
  ThreadPool& tp = pool != nullptr ? *pool : default_thread_pool();

  const GemmKind gemm = gemm_kind(wtype, isa, n, in, batch_invariant);
  if (gemm == GemmKind::F32) {
    const size_t rb = row_bytes(wtype, in);
    tp.parallel_for(out, kF32PanelRows, [&](int64_t o0, int64_t o1) {
      thread_local std::vector<float> panel;
      thread_local std::vector<float> rowbuf;
      if (panel.size() < static_cast<size_t>(kF32PanelRows * in)) panel.resize(static_cast<size_t>(kF32PanelRows * in));
      if (rowbuf.size() < static_cast<size_t>(in)) rowbuf.resize(static_cast<size_t>(in));
      table->gemm_f32(wtype, w, rb, x, in, n, o0, o1, y, out, panel.data(), rowbuf.data());
    });
    return true;
  }
  if (gemm == GemmKind::Bf16) {
    // Prefill: activations to bf16 once; each thread dequantizes 32-row weight panels of its share
    // of the output rows and multiplies them with every activation row.
    thread_local std::vector<uint16_t> t_xb;
    if (t_xb.size() < static_cast<size_t>(n * in)) t_xb.resize(static_cast<size_t>(n * in));
    uint16_t* xb = t_xb.data();
    tp.parallel_for(n, 16, [&](int64_t r0, int64_t r1) { table->to_bf16(x + r0 * in, (r1 - r0) * in, xb + r0 * in); });
    const size_t rb = row_bytes(wtype, in);
    tp.parallel_for(out, kPanelRows, [&](int64_t o0, int64_t o1) {
      thread_local std::vector<uint32_t> panel;
      thread_local std::vector<float> rowbuf;
      if (panel.size() < static_cast<size_t>(kPanelRows * in / 2)) panel.resize(static_cast<size_t>(kPanelRows * in / 2));
      if (rowbuf.size() < static_cast<size_t>(in)) rowbuf.resize(static_cast<size_t>(in));
      table->gemm_bf16(wtype, w, rb, xb, in, n, o0, o1, y, out, panel.data(), rowbuf.data());
    });
    return true;
  }

  Acts acts;
  acts.k = in;
  acts.x = x;
  const ActKind kind = act_kind(wtype);
  if (kind != ActKind::Float) {
    const int64_t qblock = kind == ActKind::Q8Block32 ? 32 : 256;
    const int64_t sgroup = kind == ActKind::Q8Block32 ? 32 : 16;
    ActScratch& sc = t_scratch;
    const size_t nq = static_cast<size_t>(n * in);
    if (sc.q.size() < nq) sc.q.resize(nq);
    if (sc.d.size() < nq / qblock) sc.d.resize(nq / qblock);
    if (sc.s.size() < nq / sgroup) sc.s.resize(nq / sgroup);
    const QuantizeFn quantize = kind == ActKind::Q8Block32 ? table->quantize_q8_32 : table->quantize_q8_256;
    int8_t* q = sc.q.data();
    float* d = sc.d.data();
    int16_t* s = sc.s.data();
    // Quantize once for all weight rows; split over activation rows when there are many.
    tp.parallel_for(n, 16, [&](int64_t r0, int64_t r1) {
      quantize(x + r0 * in, r1 - r0, in, q + r0 * in, d + r0 * (in / qblock), s + r0 * (in / sgroup));
    });
    acts.q = q;
    acts.d = d;
    acts.s = s;
  }
  const size_t rb = row_bytes(wtype, in);
  // Output rows in multiples of 16 (the kernels' tile) so each thread keeps whole tiles.
  tp.parallel_for(out, 16, [&](int64_t o0, int64_t o1) { rows(w, rb, acts, n, o0, o1, y, out); });
  return true;
}

GemmKind gemm_kind(DType wtype, Isa isa, int64_t n, int64_t in, bool batch_invariant) {
  const IsaKernels* table = isa_kernels(isa);
  if (table == nullptr || rows_for(*table, wtype) == nullptr || n < kGemmMinRows || batch_invariant)
    return GemmKind::None;
  if (table->gemm_bf16 != nullptr && in % 32 == 0) return GemmKind::Bf16;
  if (table->gemm_f32 != nullptr) return GemmKind::F32;
  return GemmKind::None;
}

namespace {

// The plain two-pass form, for CPUs without AVX2.
void attention_scalar(const AttnArgs& a, int64_t item0, int64_t item1) {
  const int64_t hd = a.head_dim, group = a.num_heads / a.num_kv_heads;
  const PagedKvView& kv = a.kv;
  std::vector<float> scores, buf(hd);
  for (int64_t item = item0; item < item1; ++item) {
    const int64_t t = item % a.T, kvh = item / a.T;
    const int64_t pos = a.start_pos + t;
    const int64_t first = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
    scores.resize(pos - first + 1);
    for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
      const float* qh = a.q + t * a.q_stride + h * hd;
      float mx = -INFINITY;
      for (int64_t j = first; j <= pos; ++j) {
        scores[j - first] = ref::dot(qh, kv_row_f32(kv.k, kv.k16, kv.at(j, kvh), hd, buf.data()), hd) * a.scale;
        mx = std::max(mx, scores[j - first]);
      }
      float sum = 0;
      for (auto& sc : scores) sum += (sc = std::exp(sc - mx));
      float* o = a.out + t * a.out_stride + h * hd;
      std::fill(o, o + hd, 0.0f);
      for (int64_t j = first; j <= pos; ++j) {
        const float* vr = kv_row_f32(kv.v, kv.v16, kv.at(j, kvh), hd, buf.data());
        const float p = scores[j - first] / sum;
        for (int64_t d = 0; d < hd; ++d) o[d] += p * vr[d];
      }
    }
  }
}

}  // namespace

void attention(const AttentionCall& c, ThreadPool* pool, Isa isa) {
  if (!isa_supported(isa)) fail("attention: this CPU cannot run {} kernels", isa_name(isa));
  if (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
    fail("attention: {} query heads cannot share {} kv heads evenly", c.num_heads, c.num_kv_heads);
  if (c.T <= 0) return;
  const PagedKvView& kv = c.kv;
  if ((kv.k == nullptr) == (kv.k16 == nullptr) || (kv.v == nullptr) == (kv.v16 == nullptr) ||
      (kv.k16 == nullptr) != (kv.v16 == nullptr))
    fail("attention: the KV view needs float32 rows (k, v) or half rows (k16, v16), not both or a mix");
  const int64_t T = c.T, start_pos = c.start_pos, num_heads = c.num_heads, head_dim = c.head_dim,
                window = c.window;
  AttnArgs a;
  static_cast<AttentionCall&>(a) = c;
  const IsaKernels* table = isa_kernels(isa);
  const auto fn = table != nullptr ? table->attention : attention_scalar;
  // Tiles of consecutive tokens share K/V loads; a window gives each token its own first key.
  a.tile = table != nullptr && window <= 0 ? table->attention_tile : 1;
  int64_t items = c.num_kv_heads * ((T + a.tile - 1) / a.tile);
  ThreadPool& tp = pool != nullptr ? *pool : default_thread_pool();
  // Too few items for the threads (decode: one per kv head) and keys in several segments: each
  // segment its own item, folded after. The arithmetic is the one the items do alone. (The partial
  // rows are capped at 16 MB; past that the segments run one after the other, as in any item.)
  const int64_t segments = (start_pos + T - 1) / kAttnSegment + 1;
  const size_t pairs = static_cast<size_t>(T * num_heads * segments);
  if (table != nullptr && window <= 0 && segments > 1 && T <= a.tile && items < 2 * static_cast<int64_t>(tp.size()) &&
      pairs * head_dim <= (size_t{1} << 22)) {
    thread_local std::vector<float> part_o, part_ml;
    if (part_o.size() < pairs * head_dim) part_o.resize(pairs * head_dim);
    if (part_ml.size() < pairs * 2) part_ml.resize(pairs * 2);
    a.segments = segments;
    a.part_o = part_o.data();
    a.part_ml = part_ml.data();
    tp.parallel_for(items * segments, 1, [&](int64_t i0, int64_t i1) { fn(a, i0, i1); });
    tp.parallel_for(T * num_heads, 1, [&](int64_t p0, int64_t p1) { table->attention_combine(a, p0, p1); });
    return;
  }
  tp.parallel_for(items, 1, [&](int64_t i0, int64_t i1) { fn(a, i0, i1); });
}

void to_f16(const float* x, uint16_t* out, int64_t n) {
  const IsaKernels* table = isa_kernels(best_isa());
  if (table != nullptr) {
    table->to_f16(x, out, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_fp16(x[i]);
}

void add(float* y, const float* x, int64_t n) {
  const IsaKernels* table = isa_kernels(best_isa());
  if (table != nullptr) return table->add(y, x, n);
  ref::add(y, x, n);
}

void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* y) {
  const IsaKernels* table = isa_kernels(best_isa());
  if (table != nullptr) return table->rms_norm(x, w, n, dim, eps, y);
  ref::rms_norm(x, w, n, dim, eps, y);
}

void rope(float* q, int64_t num_q_heads, float* k, int64_t num_k_heads, int64_t head_dim, int64_t pos,
          const RopeFreqs& f) {
  const IsaKernels* table = isa_kernels(best_isa());
  if (table == nullptr) return ref::rope(q, num_q_heads, k, num_k_heads, head_dim, pos, f);
  thread_local std::vector<float> c, s;
  c.resize(f.inv_freq.size());
  s.resize(f.inv_freq.size());
  ref::rope_angles(head_dim, pos, f, c.data(), s.data());  // once for q and k
  table->rope_rotate(q, num_q_heads, head_dim, f.rotary_dim, f.adjacent_pairs, c.data(), s.data());
  if (k != nullptr) table->rope_rotate(k, num_k_heads, head_dim, f.rotary_dim, f.adjacent_pairs, c.data(), s.data());
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  const IsaKernels* table = isa_kernels(best_isa());
  if (table != nullptr) {
    table->swiglu(gate, up, out, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace ax::cpu::kernels
