// Kernel throughput on Qwen3-0.6B-sized matrices:
//  - the machine's memory read floor: a plain vector read loop over a buffer much larger than L3;
//  - decode: matvec (n = 1) GB/s over the weight bytes for each weight dtype, cycling through
//    enough copies of each matrix that it streams from memory like a model's layers do;
//  - prefill: matmul GFLOP/s at n = 512.
//   kernels_bench [--threads N] [--isa avx2|avx2-vnni|avx512] [--seconds S] [--types Q4_K,Q8_0,...] [--packed] [--no-amx]
// --packed: the weights repacked into 16-row tiles (backend/cpu/kernels/packed.h) where the type has
// packed kernels, as the engine loads them, run by the packed kernels of --isa; other types run as
// stored. --no-amx: calls of
// 32 rows or more stay on the VNNI kernels where the CPU has AMX tiles (for A/B runs).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/memory_bandwidth.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/kernels/packed.h"
#include "format/tensor.h"
#include "format/dtype.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace {

using Clock = std::chrono::steady_clock;
using ax::DType;
namespace kernels = ax::cpu::kernels;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void put_half(uint8_t* p, float v) {
  const uint16_t h = ax::f32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

// Random weights in the stored layout (random quant bytes, sane f16 scales).
void fill_random(DType t, uint8_t* w, size_t bytes, std::mt19937& rng) {
  for (size_t i = 0; i + 4 <= bytes; i += 4) {
    const uint32_t r = rng();
    std::memcpy(w + i, &r, 4);
  }
  const auto& info = ax::dtype_info(t);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  if (t == DType::F32) {
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
      const float v = u(rng);
      std::memcpy(w + i, &v, 4);
    }
    return;
  }
  if (t == DType::F16 || t == DType::BF16) {
    for (size_t i = 0; i + 2 <= bytes; i += 2) {
      const uint16_t h = t == DType::F16 ? ax::f32_to_fp16(u(rng)) : ax::f32_to_bf16(u(rng));
      std::memcpy(w + i, &h, 2);
    }
    return;
  }
  for (size_t b = 0; b + info.type_size <= bytes; b += info.type_size) {
    uint8_t* blk = w + b;
    switch (t) {
      case DType::Q8_0:
      case DType::Q4_0: put_half(blk, 0.01f); break;
      case DType::Q4_K:
      case DType::Q5_K: put_half(blk, 0.01f); put_half(blk + 2, 0.005f); break;
      case DType::Q6_K: put_half(blk + 208, 0.01f); break;
      default: break;
    }
  }
}

struct Shape {
  int64_t out, in;
  const char* role;
};

struct Args {
  int threads = 2;
  kernels::Isa isa = kernels::best_isa();
  double seconds = 1.0;
  std::vector<DType> types = {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_0,
                              DType::Q4_0, DType::BF16, DType::F16, DType::F32};
  bool prefill = true;
  bool packed = false;
};

// One weight matrix as a kernel call sees it: stored bytes, or their packed copy.
struct Matrix {
  DType t;
  int64_t out, in;
  const uint8_t* w;
  std::unique_ptr<kernels::PackedMatrix> packed;
  void run(const float* x, int64_t n, float* y, kernels::Isa isa, ax::ThreadPool& pool) const {
    if (packed) {
      kernels::matmul_packed(*packed, x, n, y, &pool, isa);
    } else {
      kernels::matmul(t, w, out, in, x, n, y, isa, &pool);
    }
  }
};

// `copies` matrices of out x in random weights of type t.
std::vector<Matrix> make_matrices(DType t, int64_t out, int64_t in, size_t copies, bool packed,
                                  std::vector<uint8_t>& storage, std::mt19937& rng) {
  const size_t mat_bytes = ax::row_bytes(t, in) * out;
  storage.assign(mat_bytes * copies, 0);
  fill_random(t, storage.data(), storage.size(), rng);
  std::vector<Matrix> v;
  for (size_t c = 0; c < copies; ++c) {
    Matrix m{t, out, in, storage.data() + c * mat_bytes, nullptr};
    ax::TensorView view;
    view.dtype = t;
    view.shape = {out, in};
    view.data = m.w;
    view.nbytes = mat_bytes;
    if (packed && kernels::packable(view)) m.packed = kernels::pack(view);
    v.push_back(std::move(m));
  }
  if (packed && v[0].packed) storage.clear(), storage.shrink_to_fit();  // only the packed copies are read
  return v;
}

// Best GB/s over the weight bytes of calls with n activation rows, cycling through enough distinct
// copies of the matrix (together 8x the L3) that each call streams its weights from DRAM.
double streaming_gbps(DType t, const Shape& s, int64_t n, const Args& args, ax::ThreadPool& pool, std::mt19937& rng) {
  const size_t mat_bytes = ax::row_bytes(t, s.in) * s.out;
  const size_t copies = std::max<size_t>(1, (size_t{256} << 20) / mat_bytes);
  std::vector<uint8_t> storage;
  const auto mats = make_matrices(t, s.out, s.in, copies, args.packed, storage, rng);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n * s.in), y(n * s.out);
  for (auto& v : x) v = u(rng);
  double best = 0;
  size_t next = 0;
  const auto start = Clock::now();
  for (int iters = 0; seconds_since(start) < args.seconds || iters < 3; ++iters) {
    const auto t0 = Clock::now();
    mats[next].run(x.data(), n, y.data(), args.isa, pool);
    best = std::max(best, mat_bytes / seconds_since(t0) / 1e9);
    next = (next + 1) % copies;
  }
  return best;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kernels_bench: %s needs a value\n", s.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (s == "--threads") {
      a.threads = std::stoi(next());
    } else if (s == "--seconds") {
      a.seconds = std::stod(next());
    } else if (s == "--isa") {
      const std::string v = next();
      if (!kernels::isa_from_name(v, &a.isa)) {
        std::fprintf(stderr, "kernels_bench: unknown --isa %s (avx2, avx2-vnni, avx512)\n", v.c_str());
        std::exit(2);
      }
    } else if (s == "--packed") {
      a.packed = true;
    } else if (s == "--no-amx") {
      kernels::set_amx_enabled(false);
    } else if (s == "--no-prefill") {
      a.prefill = false;
    } else if (s == "--types") {
      a.types.clear();
      std::string v = next();
      size_t pos = 0;
      while (pos <= v.size()) {
        const size_t comma = std::min(v.find(',', pos), v.size());
        const auto t = ax::dtype_from_name(v.substr(pos, comma - pos));
        if (!t) {
          std::fprintf(stderr, "kernels_bench: unknown type in --types: %s\n", v.c_str());
          std::exit(2);
        }
        a.types.push_back(*t);
        pos = comma + 1;
      }
    } else {
      std::fprintf(stderr, "usage: kernels_bench [--threads N] [--isa avx2|avx2-vnni|avx512] [--seconds S] "
                           "[--types Q4_K,...] [--no-prefill] [--packed] [--no-amx]\n");
      std::exit(2);
    }
  }
  if (!kernels::isa_supported(a.isa) || a.isa == kernels::Isa::Scalar) {
    std::fprintf(stderr, "kernels_bench: ISA %s is not available on this CPU\n", kernels::isa_name(a.isa));
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  ax::ThreadPool pool(args.threads);
  const auto& f = ax::cpu::cpu_features();
  std::printf("cpu: %s\nfeatures: %s\nisa: %s, threads: %d, AMX tiles for packed calls of 32+ rows: %s\n",
              f.model_name.c_str(), f.summary().c_str(), kernels::isa_name(args.isa), args.threads,
              ax::cpu::amx_usable() && kernels::amx_enabled() ? "yes" : "no");
  const double floor = ax::cpu::measure_read_bandwidth_gbps(pool, 2.0 * args.seconds, size_t{64} << 20);
  std::printf("memory read floor: %.1f GB/s (64 MiB windows of a 1 GiB buffer, %d threads)\n\n", floor, args.threads);

  const Shape shapes[] = {{1024, 3072, "down"}, {3072, 1024, "gate/up"}, {151936, 1024, "lm_head"}};
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::printf("decode matvec (n=1): GB/s of weights read, %% of floor\n");
  std::printf("%-6s", "type");
  for (const auto& s : shapes) std::printf("  %7lldx%-6lld      ", static_cast<long long>(s.out), static_cast<long long>(s.in));
  std::printf("\n");
  for (DType t : args.types) {
    std::printf("%-6s", std::string(ax::dtype_name(t)).c_str());
    for (const auto& s : shapes) {
      const double best = streaming_gbps(t, s, 1, args, pool, rng);
      std::printf("  %6.1f GB/s %4.0f%%  ", best, 100.0 * best / floor);
      std::fflush(stdout);
    }
    std::printf("\n");
  }

  // Batched decode: 16 sequences' rows at once; GB/s over the weight bytes (each read once per call).
  std::printf("\nbatched decode (n=16): GB/s of weights, GFLOP/s\n%-6s", "type");
  for (const auto& s : shapes) std::printf("  %7lldx%-6lld      ", static_cast<long long>(s.out), static_cast<long long>(s.in));
  std::printf("\n");
  for (DType t : args.types) {
    std::printf("%-6s", std::string(ax::dtype_name(t)).c_str());
    for (const auto& s : shapes) {
      const int64_t nb = 16;
      const double best = streaming_gbps(t, s, nb, args, pool, rng);
      const double gflops = best * 1e9 / static_cast<double>(ax::row_bytes(t, s.in) * s.out) * 2.0 * nb * s.out * s.in / 1e9;
      std::printf("  %5.1f GB/s %5.0f GF  ", best, gflops);
      std::fflush(stdout);
    }
    std::printf("\n");
  }

  if (!args.prefill) return 0;
  std::printf("\nprefill matmul (n=512): GFLOP/s\n%-6s", "type");
  const Shape pshapes[] = {{1024, 3072, "down"}, {3072, 1024, "gate/up"}};
  for (const auto& s : pshapes) std::printf("  %5lldx%-5lld", static_cast<long long>(s.out), static_cast<long long>(s.in));
  std::printf("\n");
  const int64_t n = 512;
  for (DType t : args.types) {
    std::printf("%-6s", std::string(ax::dtype_name(t)).c_str());
    for (const auto& s : pshapes) {
      std::vector<uint8_t> storage;
      const auto mats = make_matrices(t, s.out, s.in, 1, args.packed, storage, rng);
      std::vector<float> x(n * s.in), y(n * s.out);
      for (auto& v : x) v = u(rng);
      double best = 0;
      const auto start = Clock::now();
      int iters = 0;
      while (seconds_since(start) < args.seconds || iters < 2) {
        const auto t0 = Clock::now();
        mats[0].run(x.data(), n, y.data(), args.isa, pool);
        best = std::max(best, 2.0 * n * s.out * s.in / seconds_since(t0) / 1e9);
        ++iters;
      }
      std::printf("  %7.1f    ", best);
      std::fflush(stdout);
    }
    std::printf("\n");
  }
  return 0;
}
