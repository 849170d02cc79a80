// Repacking weights into 16-row tiles (the layouts are in packed.h), and the packed matmul's
// activation preparation and threading. The tile kernels themselves are in packed_avx512.cpp and
// packed_avx2.cpp (one table per tier).
#include "backend/cpu/kernels/packed.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/cpu/kernels/isa_kernels.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/kernels/packed_kernels.h"
#include "util/error.h"
#include "util/mapped_file.h"
#include "util/thread_pool.h"

namespace ax::cpu::kernels {
namespace {

size_t tile_bytes_of(DType t) {
  switch (t) {
    case DType::F32: return 2048;
    case DType::F16:
    case DType::BF16: return 1024;
    case DType::Q8_0: return 544;
    case DType::Q4_0: return 288;
    case DType::Q4_K: return 2368;
    case DType::Q5_K: return 2880;
    case DType::Q6_K: return 3360;
    case DType::MXFP4: return 272;
    default: return 0;
  }
}

// Values per tile column block: the quant block, or 32 for the float types.
int64_t block_values(DType t) { return dtype_info(t).block_size == 1 ? 32 : dtype_info(t).block_size; }
size_t block_bytes(DType t) { return static_cast<size_t>(block_values(t) / dtype_info(t).block_size) * dtype_info(t).type_size; }

// The 8 six-bit scales and mins of a Q4_K/Q5_K block's 12 packed bytes.
void k_scales(const uint8_t* s, uint8_t* sc, uint8_t* m) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    m[j] = s[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    m[j] = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}
// The inverse: 8 scales and mins (each < 64) into the 12 packed bytes.
void pack_k_scales(const uint8_t* sc, const uint8_t* m, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0f) | ((m[j + 4] & 0x0f) << 4));
  }
}

// Where the bytes of a stored block go in its tile, for lane i: calls fn(stored offset, tile offset,
// length, flip) for every run of bytes that is copied (flip: each byte xor 0x80). The Q4_K/Q5_K
// scales and the Q6_K quant bits are handled apart (they change form).
template <class Fn>
void for_each_moved_run(DType t, int i, Fn&& fn) {
  switch (t) {
    case DType::F32:
    case DType::F16:
    case DType::BF16: {  // [32 k][16 lanes] values
      const int e = static_cast<int>(dtype_info(t).type_size);
      for (int kk = 0; kk < 32; ++kk) fn(kk * e, (kk * 16 + i) * e, e, false);
      return;
    }
    case DType::Q8_0:
      fn(0, 2 * i, 2, false);
      for (int l4 = 0; l4 < 8; ++l4) fn(2 + 4 * l4, 32 + (l4 * 16 + i) * 4, 4, true);
      return;
    case DType::Q4_0:
      fn(0, 2 * i, 2, false);
      for (int l4 = 0; l4 < 4; ++l4) fn(2 + 4 * l4, 32 + (l4 * 16 + i) * 4, 4, false);
      return;
    case DType::MXFP4:
      fn(0, i, 1, false);
      for (int l4 = 0; l4 < 4; ++l4) fn(1 + 4 * l4, 16 + (l4 * 16 + i) * 4, 4, false);
      return;
    case DType::Q4_K:
    case DType::Q5_K: {
      const bool q5 = t == DType::Q5_K;
      fn(0, 2 * i, 2, false);       // d
      fn(2, 32 + 2 * i, 2, false);  // dmin
      const int qs = q5 ? 48 : 16, step = q5 ? 320 : 256;  // Q5_K: each l4's qh follows its qs
      for (int c = 0; c < 4; ++c)
        for (int l4 = 0; l4 < 8; ++l4) fn(qs + 32 * c + 4 * l4, 320 + l4 * step + (c * 16 + i) * 4, 4, false);
      if (q5)
        for (int l4 = 0; l4 < 8; ++l4) fn(16 + 4 * l4, 320 + l4 * step + 256 + i * 4, 4, false);
      return;
    }
    case DType::Q6_K:
      fn(208, 2 * i, 2, false);
      for (int g = 0; g < 16; ++g) fn(192 + g, 32 + ((g / 2) * 16 + i) * 2 + g % 2, 1, false);
      return;
    default: return;
  }
}

// A copy of n = 1, 2 or 4 bytes (fixed-size copies: this runs for every byte of a model at load),
// optionally flipping each byte's top bit.
inline void move_run(const uint8_t* from, uint8_t* to, int n, bool flip) {
  if (n == 4) {
    uint32_t w;
    std::memcpy(&w, from, 4);
    if (flip) w ^= 0x80808080u;
    std::memcpy(to, &w, 4);
  } else if (n == 2) {
    std::memcpy(to, from, 2);
  } else {
    *to = *from;
  }
}

// Q6_K quant bits, stored: ql[128] at 0, qh[64] at 128; value at 128h + 32i + l (l < 32) has low
// bits (i even: ql[64h + l], i odd: ql[64h + 32 + l]; i < 2 low nibble, else high) and high bits
// (qh[32h + l] >> 2i) & 3. Tile: per (h, l4) three planes A, B, C of [16 lanes][4]; plane I byte
// holds v_I (I < 3) in bits 0..5 and bits 2I, 2I+1 of v3 in bits 6..7.
int q6_value_of(const uint8_t* blk, int h, int i, int l) {
  const uint8_t ql = blk[64 * h + 32 * (i & 1) + l];
  const int lo = i < 2 ? (ql & 0x0f) : (ql >> 4);
  return lo | (((blk[128 + 32 * h + l] >> (2 * i)) & 3) << 4);
}

void q6_pack(const uint8_t* blk, int lane, uint8_t* tile) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int v3 = q6_value_of(blk, h, 3, l);
      for (int I = 0; I < 3; ++I)
        tile[288 + (h * 8 + l / 4) * 192 + 64 * I + lane * 4 + l % 4] =
            static_cast<uint8_t>(q6_value_of(blk, h, I, l) | (((v3 >> (2 * I)) & 3) << 6));
    }
}

void q6_unpack(const uint8_t* tile, int lane, uint8_t* blk) {
  std::memset(blk, 0, 192);
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      int v[4], v3 = 0;
      for (int I = 0; I < 3; ++I) {
        const uint8_t byte = tile[288 + (h * 8 + l / 4) * 192 + 64 * I + lane * 4 + l % 4];
        v[I] = byte & 0x3f;
        v3 |= (byte >> 6) << (2 * I);
      }
      v[3] = v3;
      for (int i = 0; i < 4; ++i) {
        uint8_t& ql = blk[64 * h + 32 * (i & 1) + l];
        ql = static_cast<uint8_t>(ql | (i < 2 ? (v[i] & 0x0f) : (v[i] & 0x0f) << 4));
        blk[128 + 32 * h + l] = static_cast<uint8_t>(blk[128 + 32 * h + l] | ((v[i] >> 4) << (2 * i)));
      }
    }
}

// Lane i of tile `tile` <- one stored block.
void pack_block(DType t, const uint8_t* src, int i, uint8_t* tile) {
  for_each_moved_run(t, i, [&](int s, int d, int n, bool flip) { move_run(src + s, tile + d, n, flip); });
  if (t == DType::Q6_K) q6_pack(src, i, tile);
  if (t == DType::Q4_K || t == DType::Q5_K) {
    uint8_t sc[8], m[8];
    k_scales(src + 4, sc, m);
    for (int j = 0; j < 8; ++j) {
      tile[64 + j * 16 + i] = sc[j];
      tile[192 + (j / 2) * 32 + i * 2 + j % 2] = m[j];
    }
  }
}

void unpack_block(DType t, const uint8_t* tile, int i, uint8_t* dst) {
  for_each_moved_run(t, i, [&](int s, int d, int n, bool flip) { move_run(tile + d, dst + s, n, flip); });
  if (t == DType::Q6_K) q6_unpack(tile, i, dst);
  if (t == DType::Q4_K || t == DType::Q5_K) {
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
      sc[j] = tile[64 + j * 16 + i];
      m[j] = tile[192 + (j / 2) * 32 + i * 2 + j % 2];
    }
    pack_k_scales(sc, m, dst + 4);
  }
}

}  // namespace

const PackedKernels* packed_kernels(Isa isa) {
  if (!isa_supported(isa)) return nullptr;
  switch (isa) {
    case Isa::Avx2: return packed_avx2_table();
    case Isa::Avx2Vnni: return packed_avx2_vnni_table();
    case Isa::Avx512: return packed_avx512_table();
    case Isa::Scalar: return nullptr;
  }
  return nullptr;
}

namespace {
// w has a tile layout (whatever the CPU runs).
bool has_layout(const TensorView& w) {
  if (w.shape.size() != 2 || tile_bytes_of(w.dtype) == 0) return false;
  const int64_t out = w.shape[0], in = w.shape[1];
  return out > 0 && out % kPackRows == 0 && in % block_values(w.dtype) == 0 &&
         w.nbytes >= row_bytes(w.dtype, in) * static_cast<size_t>(out);
}
}  // namespace

bool packable(const TensorView& w) {
  const PackedKernels* k = packed_kernels(best_isa());
  return has_layout(w) && k != nullptr && k->for_dtype(w.dtype) != nullptr;
}

size_t packed_bytes(const TensorView& w) {
  if (!has_layout(w)) fail("pack: tensor '{}' ({}) cannot be packed", w.name, dtype_info(w.dtype).name);
  return static_cast<size_t>(w.shape[0] / kPackRows * (w.shape[1] / block_values(w.dtype))) * tile_bytes_of(w.dtype);
}

std::unique_ptr<PackedMatrix> pack(const TensorView& w, bool release_source, std::shared_ptr<HugeBuffer> storage,
                                   uint8_t* dst) {
  const size_t total = packed_bytes(w);
  auto m = std::make_unique<PackedMatrix>();
  m->dtype = w.dtype;
  m->out = w.shape[0];
  m->in = w.shape[1];
  m->tile_bytes = tile_bytes_of(w.dtype);
  m->blocks = m->in / block_values(w.dtype);
  const size_t bb = block_bytes(w.dtype);
  const size_t rb = row_bytes(w.dtype, m->in);
  const int64_t groups = m->out / kPackRows;
  if (storage == nullptr) {
    storage = std::make_shared<HugeBuffer>(total);
    dst = storage->data();
  }
  m->storage = std::move(storage);
  m->data = dst;
  default_thread_pool().parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g)
      for (int64_t b = 0; b < m->blocks; ++b) {
        auto* tile = const_cast<uint8_t*>(m->tile(g, b));
        for (int i = 0; i < kPackRows; ++i) pack_block(w.dtype, w.data + (g * kPackRows + i) * rb + b * bb, i, tile);
      }
    // The rows just packed are no longer needed in memory: a big matrix never has both copies.
    if (release_source) MappedFile::release_pages(w.data + g0 * kPackRows * rb, static_cast<size_t>(g1 - g0) * kPackRows * rb);
  });
  return m;
}

void unpack_row(const PackedMatrix& m, int64_t row, uint8_t* dst) {
  const size_t bb = block_bytes(m.dtype);
  for (int64_t b = 0; b < m.blocks; ++b)
    unpack_block(m.dtype, m.tile(row / kPackRows, b), static_cast<int>(row % kPackRows), dst + b * bb);
}

namespace {

// x {n, in} quantized per row for the packed kernels of m's type (a row's bytes never depend on n),
// in per-thread buffers reused across calls.
PackedActs quantized_acts(const PackedMatrix& m, const float* x, int64_t n, ThreadPool& tp, const IsaKernels& isa) {
  const bool k_quant = m.dtype == DType::Q4_K || m.dtype == DType::Q5_K || m.dtype == DType::Q6_K;
  const int64_t qblock = k_quant ? 256 : 32, sgroup = k_quant ? 16 : 32;
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> d;
  thread_local std::vector<int16_t> s;
  thread_local std::vector<int16_t> s32;
  const size_t nq = static_cast<size_t>(n * m.in);
  if (q.size() < nq) q.resize(nq);
  if (d.size() < nq / qblock) d.resize(nq / qblock);
  if (s.size() < nq / sgroup) s.resize(nq / sgroup);
  if (k_quant && s32.size() < nq / 32) s32.resize(nq / 32);
  const QuantizeFn quantize = k_quant ? isa.quantize_q8_256 : isa.quantize_q8_32;
  const int64_t in = m.in;
  int8_t* qp = q.data();
  float* dp = d.data();
  int16_t* sp = s.data();
  int16_t* s32p = s32.data();
  tp.parallel_for(n, 16, [&](int64_t r0, int64_t r1) {
    quantize(x + r0 * in, r1 - r0, in, qp + r0 * in, dp + r0 * (in / qblock), sp + r0 * (in / sgroup));
    if (k_quant)
      for (int64_t i = r0 * (in / 32); i < r1 * (in / 32); ++i) s32p[i] = static_cast<int16_t>(sp[2 * i] + sp[2 * i + 1]);
  });
  return PackedActs{qp, dp, sp, k_quant ? s32p : nullptr, nullptr, in};
}

}  // namespace

namespace {
// How a matrix's kernels see x: 0 float32, 1 int8 in blocks of 32 (Q8_0, Q4_0, MXFP4), 2 int8 in blocks of
// 256 (the K-quants). Matrices of one kind can share one quantized x.
int acts_kind(DType t) {
  if (dtype_info(t).block_size == 1) return 0;
  return t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K ? 2 : 1;
}
}  // namespace

bool can_share_acts(const PackedMatrix& a, const PackedMatrix& b) {
  return a.in == b.in && acts_kind(a.dtype) == acts_kind(b.dtype);
}

namespace {
std::atomic<bool>& amx_switch() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("AX_AMX");
    return env == nullptr || std::string(env) != "0";
  }()};
  return on;
}
}  // namespace

bool amx_enabled() { return amx_switch().load(std::memory_order_relaxed); }
void set_amx_enabled(bool on) { amx_switch().store(on); }

void matmul_packed(const PackedMatrix& m, const float* x, int64_t n, float* y, ThreadPool* pool, Isa isa) {
  const PackedMatrix* ms[] = {&m};
  float* ys[] = {y};
  matmul_packed_many(ms, ys, 1, x, n, pool, isa);
}

void matmul_packed_many(const PackedMatrix* const* ms, float* const* ys, int count, const float* x, int64_t n,
                        ThreadPool* pool, Isa isa) {
  const PackedKernels* pk = packed_kernels(isa);
  if (pk == nullptr) fail("matmul_packed: this CPU has no packed kernels of tier {}", isa_name(isa));
  if (n <= 0 || count <= 0) return;
  if (isa == Isa::Avx512 && n >= kAmxMinRows && amx_enabled() && packed_amx_kernels() != nullptr) pk = packed_amx_kernels();
  for (int i = 1; i < count; ++i)
    if (!can_share_acts(*ms[0], *ms[i])) fail("matmul_packed_many: matrix {} reads x differently from matrix 0", i);
  ThreadPool& tp = pool != nullptr ? *pool : default_thread_pool();
  const bool float_weights = acts_kind(ms[0]->dtype) == 0;  // they see x as float32
  const PackedActs acts = float_weights ? PackedActs{nullptr, nullptr, nullptr, nullptr, x, ms[0]->in}
                                        : quantized_acts(*ms[0], x, n, tp, *isa_kernels(isa));
  // The 16-row groups of all matrices, one after the other (as they lie in a model's weight
  // buffer), split over the pool. Float weights go in chunks of whole group pairs: many rows take
  // two groups at a time.
  int64_t total = 0;
  for (int i = 0; i < count; ++i) total += ms[i]->out / kPackRows;
  tp.parallel_for(total, float_weights ? 2 : 1, [&](int64_t g0, int64_t g1) {
    int64_t first = 0;  // first group of matrix i in the joint numbering
    for (int i = 0; i < count && first < g1; ++i) {
      const PackedMatrix& m = *ms[i];
      const int64_t groups = m.out / kPackRows, lo = std::max(g0, first), hi = std::min(g1, first + groups);
      if (lo < hi) pk->for_dtype(m.dtype)(m, acts, n, lo - first, hi - first, ys[i], m.out);
      first += groups;
    }
  });
}

std::vector<std::shared_ptr<const PackedMatrix>> pack_linears(const std::vector<const TensorView*>& ws) {
  std::vector<std::shared_ptr<const PackedMatrix>> out(ws.size());
  // Each distinct packable weight gets its place in one buffer, on a 64-byte boundary.
  std::vector<size_t> offset(ws.size(), SIZE_MAX);
  std::unordered_map<const uint8_t*, size_t> first;  // data -> index of its first listing
  size_t total = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    const TensorView& w = *ws[i];
    if (!packable(w) || !first.emplace(w.data, i).second) continue;
    offset[i] = total;
    total += (packed_bytes(w) + 63) / 64 * 64;
  }
  if (total == 0) return out;
  auto storage = std::make_shared<HugeBuffer>(total);
  for (size_t i = 0; i < ws.size(); ++i)
    if (offset[i] != SIZE_MAX) out[i] = pack(*ws[i], true, storage, storage->data() + offset[i]);
  for (size_t i = 0; i < ws.size(); ++i)  // later listings of a weight packed above
    if (out[i] == nullptr && packable(*ws[i])) out[i] = out[first.at(ws[i]->data)];
  return out;
}

}  // namespace ax::cpu::kernels
