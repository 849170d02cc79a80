#pragma once
// Weights repacked once at load into 16-row interleaved tiles for the packed kernels (AVX-512
// VNNI, and AVX2 with or without AVX-VNNI).
//
// Why: the stored GGUF layout keeps each weight row contiguous, so a vector holds many values of
// ONE row and a dot product ends in a horizontal sum; prefill then re-unpacks every weight block
// for each few activation rows. In a tile the 16 lanes of a zmm register are 16 output rows (4
// consecutive k values each, the vpdpbusd operand): one unpacked weight vector serves every
// activation row of the call, and each lane accumulates its own output with no horizontal sums.
// The AVX2 kernels read each 64-byte line as two ymm halves of 8 rows (packed_avx2_body.inc).
//
// Batch invariance by construction: a lane's arithmetic (exact int32 dot products per block, then
// one float fma per block in block order) is the same whether the call has 1 activation row or
// 512, so decode (matvec), verify (a few rows) and prefill (GEMM) give bit-identical rows.
//
// Float weights (F32, F16, BF16) are packed too: 16 rows x 32 values per tile, [32 k][16 i] in the
// stored type; x stays float32 and each lane keeps 4 partial sums (see packed_avx512.cpp).
//
// Tile layouts (one tile = 16 output rows x one quant block; "[a][b]" = a-major; lanes i = 0..15
// are rows 16g + i; f16 = IEEE half). Tiles are ordered group-major, then block, and each layout
// is read front to back by the single-row kernel: decode streams the weights strictly in address
// order, which the hardware prefetchers need (reading two groups side by side, or a group's tiles
// with gaps between them, measured 17 GB/s per core instead of 32-37).
//   Q8_0 (32 values, 544 B):  d f16[16], q[8 l4][16 i][4] stored as u8 = q + 128
//   Q4_0 (32 values, 288 B):  d f16[16], qs[4 l4][16 i][4] = stored bytes 4*l4..4*l4+3 (lo nibble:
//                             value l, hi: value l + 16)
//   MXFP4 (32 values, 272 B): e u8[16], qs[4 l4][16 i][4] as Q4_0 (the E2M1 codes)
//   Q4_K (256 values, 2368 B): d f16[16], dmin f16[16], sc u8[8 j][16 i], m u8[4 p][16 i][2] (mins
//                             2p, 2p+1),
//                             qs[8 l4][4 c][16 i][4] = stored qs bytes 32c + 4*l4 .. + 3
//   Q5_K (256 values, 2880 B): the Q4_K head, then per l4 its qs [4 c][16 i][4] as in Q4_K and
//                             qh [16 i][4] = stored qh bytes 4*l4 .. + 3 (read in address order)
//   Q6_K (256 values, 3360 B): d f16[16], sc s8[8 p][16 i][2] (scales 2p, 2p+1), then per half h
//                             and l4 three planes [16 i][4]: plane I (0..2) holds the 6-bit value
//                             at 128h + 32I + l (l = 4*l4..4*l4+3) in bits 0..5 and bits 2I, 2I+1 of
//                             the value at 128h + 96 + l in bits 6..7
// The sizes are the stored sizes except for Q4_K/Q5_K (+4 bytes per row and block: the 6-bit
// scales and mins stored as bytes).
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/cpu/kernels/kernels.h"
#include "format/dtype.h"
#include "format/tensor.h"
#include "util/huge_buffer.h"

namespace ax {
class ThreadPool;
}

namespace ax::cpu::kernels {

constexpr int64_t kPackRows = 16;

// True when the engine's kernel tier (best_isa) has packed kernels and w (2-D, dtype Q8_0/Q4_0/MXFP4/Q4_K/Q5_K/Q6_K or F32/F16/
// BF16 with rows of a multiple of 32 values; a multiple of 16 rows) can be packed.
bool packable(const TensorView& w);

// A weight matrix in tile layout; its bytes lie in `storage`, which it may share with other
// matrices packed together (a model's weights, one after the other in the order decode reads them).
struct PackedMatrix {
  DType dtype = DType::F32;
  int64_t out = 0, in = 0;
  size_t tile_bytes = 0;
  int64_t blocks = 0;  // quant blocks per row
  std::shared_ptr<HugeBuffer> storage;
  uint8_t* data = nullptr;  // inside storage
  const uint8_t* tile(int64_t group, int64_t block) const {
    return data + static_cast<size_t>(group * blocks + block) * tile_bytes;
  }
};

// Bytes of w's packed copy (w must have a tile layout: what packable asks of it besides the tier).
size_t packed_bytes(const TensorView& w);

// The tile layout of w's stored bytes (w as for packed_bytes), in a buffer of its own, or at `dst`
// inside `storage` (packed_bytes(w) bytes there). release_source: w lives in a model file mapping
// whose pages may go once packed (MappedFile::release_pages; ignored otherwise).
std::unique_ptr<PackedMatrix> pack(const TensorView& w, bool release_source = false,
                                   std::shared_ptr<HugeBuffer> storage = nullptr, uint8_t* dst = nullptr);
// Row `row` of m back in its stored GGUF bytes (row_bytes(dtype, in) of them): the inverse of pack.
void unpack_row(const PackedMatrix& m, int64_t row, uint8_t* dst);

// y = x · W^T for the packed W: x {n, in} float32, y {n, out}. Quantizes x once (as the per-row
// kernels do) and splits the 16-row groups over the pool.
// isa: the tier whose kernels run (all give the same bits; tests compare them).
void matmul_packed(const PackedMatrix& m, const float* x, int64_t n, float* y, ThreadPool* pool = nullptr,
                   Isa isa = best_isa());
// y_i = x · W_i^T for `count` matrices that read the same x (q/k/v, gate/up): one quantization of x
// and one pass over the pool for all their groups (fewer dispatches, and one ascending run over
// weights packed side by side). The matrices must pairwise satisfy can_share_acts.
void matmul_packed_many(const PackedMatrix* const* ms, float* const* ys, int count, const float* x, int64_t n,
                        ThreadPool* pool = nullptr, Isa isa = best_isa());
// Whether matmul_packed may run calls of many rows on AMX tiles where this CPU has them (Intel
// Sapphire Rapids and later). On unless the environment sets AX_AMX=0; the switch is for A/B
// measurements and tests: the outputs are bit-identical either way.
bool amx_enabled();
void set_amx_enabled(bool on);

// True when a and b take the same x in the same form (same width, same activation quantization).
bool can_share_acts(const PackedMatrix& a, const PackedMatrix& b);

// Packed copies of a model's linear weights (those that are packable; nullptr for the others), one
// handle per listing: a weight listed twice (a tied lm_head) is packed once. They share one buffer,
// in the order given: a model lists them in the order a decode step reads them, so decode streams one
// ascending run of memory, on huge pages even where each matrix is small. When a weight lies in a
// model file mapping its own pages are released as it is packed (re-read from the file only if
// something still reads the original, e.g. an embedding row), so peak memory holds one copy.
std::vector<std::shared_ptr<const PackedMatrix>> pack_linears(const std::vector<const TensorView*>& ws);

}  // namespace ax::cpu::kernels
