// The CUDA backend: device memory, weights in their device layouts (device_layout.h), one stream,
// and decode steps recorded once and replayed as CUDA graphs. Host code; the kernels are in the
// .cu files (cuda_kernels.h).
#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/kv_cache.h"
#include "backend/moe_routing.h"
#include "util/error.h"

namespace ax::cuda {

void throw_cuda_error(const char* call, cudaError_t err) { fail("cuda: {} failed: {}", call, cudaGetErrorString(err)); }
void throw_usage_error(const char* what) { fail("{}", what); }

namespace {

// A weight matrix (or embedding table) in its device layout; handles listed twice share one copy.
class CudaWeight final : public Weight {
 public:
  DeviceLayout layout;
  std::shared_ptr<DeviceBuffer> buf;
  const uint8_t* data() const { return buf->as<const uint8_t>(); }
};

const CudaWeight& cuda_weight(const Weight& w) {
  const auto* c = dynamic_cast<const CudaWeight*>(&w);
  if (c == nullptr) fail("cuda backend: weight '{}' was not loaded by a CUDA backend", w.name);
  return *c;
}

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// Pinned host memory, grown on demand.
class PinnedBuffer {
 public:
  ~PinnedBuffer() { reset(); }
  void* ensure(size_t bytes) {
    if (bytes > cap_) {
      reset();
      AX_CUDA_CHECK(cudaHostAlloc(&p_, bytes, cudaHostAllocDefault));
      cap_ = bytes;
    }
    return p_;
  }
  void reset() {
    if (p_ != nullptr) cudaFreeHost(p_);
    p_ = nullptr;
    cap_ = 0;
  }

 private:
  void* p_ = nullptr;
  size_t cap_ = 0;
};

// What a recorded step graph depends on besides the values it reads from the step buffer.
struct GraphKey {
  int64_t tokens, sequences, logit_rows, segments;
  const KvCache* kv;
  bool operator<(const GraphKey& o) const {
    return std::tie(tokens, sequences, logit_rows, segments, kv) <
           std::tie(o.tokens, o.sequences, o.logit_rows, o.segments, o.kv);
  }
};

struct Recorded {
  cudaGraphExec_t exec = nullptr;
  Tensor out;
  uint64_t epoch = 0;
};

constexpr size_t kMaxGraphs = 64;
constexpr size_t kAttentionScratchCap = size_t{64} << 20;  // floats (256 MiB)

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& o) : device_(o.device), fraction_(o.gpu_memory_fraction) {
    AX_CUDA_CHECK(cudaSetDevice(device_));
    AX_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    cudaDeviceProp prop{};
    AX_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    desc_ = fmt::format("cuda:{} {} (sm_{}{}, {:.0f} GiB)", device_, prop.name, prop.major, prop.minor,
                        prop.totalGlobalMem / double(1 << 30));
    if (const char* env = std::getenv("AX_CUDA_GRAPHS"); env != nullptr && std::string(env) == "0") graphs_ = false;
  }
  ~CudaBackend() override {
    drop_graphs();
    cudaStreamSynchronize(stream_);
    step_dev_.reset();
    xf_.reset();
    attn_scratch_.reset();
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda"; }
  std::string description() const override { return desc_; }

  // ---- memory ----------------------------------------------------------------------------------------
  DeviceBuffer alloc(size_t bytes) override {
    void* p = nullptr;
    AX_CUDA_CHECK(cudaSetDevice(device_));
    const cudaError_t err = cudaMalloc(&p, std::max<size_t>(bytes, 16));
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear it: out of memory is not sticky
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      fail("cuda: cannot allocate {:.1f} MiB on device {} ({:.1f} MiB free): {}", bytes / double(1 << 20), device_,
           free_b / double(1 << 20), cudaGetErrorString(err));
    }
    AX_CUDA_CHECK(cudaMemsetAsync(p, 0, std::max<size_t>(bytes, 16), stream_));
    AX_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return DeviceBuffer(p, bytes, [this](void* q) {
      cudaStreamSynchronize(stream_);
      cudaFree(q);
      ++epoch_;  // a recorded graph may point into it
    });
  }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    AX_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    AX_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    AX_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    AX_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  MemoryInfo memory() const override {
    size_t free_b = 0, total_b = 0;
    AX_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return {static_cast<int64_t>(total_b), static_cast<int64_t>(free_b)};
  }
  double measure_read_bandwidth_gbps() override {
    // Best of 20 passes over 2 GiB (far beyond the L2), timed with events.
    const size_t bytes = size_t{2} << 30;
    DeviceBuffer buf = alloc(bytes), sink = alloc(16);
    cudaDeviceProp prop{};
    AX_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    cudaEvent_t t0, t1;
    AX_CUDA_CHECK(cudaEventCreate(&t0));
    AX_CUDA_CHECK(cudaEventCreate(&t1));
    float best_ms = 1e30f;
    for (int i = 0; i < 21; ++i) {
      AX_CUDA_CHECK(cudaEventRecord(t0, stream_));
      read_pass(buf.data(), bytes, sink.as<uint32_t>(), prop.multiProcessorCount, stream_);
      AX_CUDA_CHECK(cudaEventRecord(t1, stream_));
      AX_CUDA_CHECK(cudaEventSynchronize(t1));
      float ms = 0;
      AX_CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
      if (i > 0) best_ms = std::min(best_ms, ms);  // the first pass warms up
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    return bytes / (best_ms * 1e-3) / 1e9;
  }
  KvBudget default_kv_budget() const override {
    const MemoryInfo m = memory();
    return {static_cast<int64_t>(m.free_bytes * fraction_),
            fmt::format("{:.0f}% of the {:.1f} GiB free on {}", fraction_ * 100, m.free_bytes / double(1 << 30), desc_)};
  }

  // ---- weights -----------------------------------------------------------------------------------------
  std::vector<WeightPtr> load_linears(const std::vector<const TensorView*>& ws) override {
    std::vector<WeightPtr> out;
    std::unordered_map<const uint8_t*, const CudaWeight*> seen;  // a weight listed twice: one copy
    for (const TensorView* w : ws) {
      if (w->shape.size() != 2) fail("cuda: weight '{}' has {} dimensions, expected 2", w->name, w->shape.size());
      auto cw = std::make_unique<CudaWeight>();
      if (auto it = seen.find(w->data); it != seen.end()) {
        *cw = *it->second;
      } else {
        upload(*w, *cw);
        seen.emplace(w->data, cw.get());
      }
      out.push_back(std::move(cw));
    }
    return out;
  }
  WeightPtr load_table(const TensorView& t) override {
    auto cw = std::make_unique<CudaWeight>();
    upload(t, *cw);
    return cw;
  }

  // ---- steps -------------------------------------------------------------------------------------------
  Tensor run_step(const StepInput& in, const KvCache& kv, bool replayable,
                  const std::function<Tensor(const StepView&)>& body) override {
    const StepView view = upload_step(in);
    if (!graphs_ || !replayable) return body(view);
    const GraphKey key{in.num_tokens(), in.num_sequences(), in.num_logit_rows(),
                       (in.max_context() + kAttnSegment - 1) / kAttnSegment, &kv};
    auto it = graphs_by_key_.find(key);
    if (it != graphs_by_key_.end() && it->second.epoch == epoch_) {
      AX_CUDA_CHECK(cudaGraphLaunch(it->second.exec, stream_));
      touch(key);
      return it->second.out;
    }
    if (it != graphs_by_key_.end()) forget(it);
    // First sight of this shape: run it plainly (scratch buffers grow outside any capture); the
    // second time, record it and replay from then on. A body that cannot be recorded (it needs the
    // host in the middle, as MoE routing does) runs plainly from then on.
    if (seen_once_.insert(key).second || unrecordable_.count(key)) return body(view);
    const uint64_t epoch = epoch_;
    AX_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    Tensor out;
    bool captured = true;
    try {
      out = body(view);
    } catch (const std::exception&) {
      captured = false;  // e.g. a buffer had to grow inside: nothing ran, run it plainly below
    }
    cudaGraph_t graph = nullptr;
    const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
    cudaGetLastError();
    if (!captured || end != cudaSuccess || epoch != epoch_) {
      if (graph != nullptr) cudaGraphDestroy(graph);
      if (!captured || end != cudaSuccess) unrecordable_.insert(key);
      return body(view);
    }
    cudaGraphExec_t exec = nullptr;
    const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    AX_CUDA_CHECK(inst);
    if (graphs_by_key_.size() >= kMaxGraphs) forget(graphs_by_key_.find(lru_.back()));
    graphs_by_key_[key] = Recorded{exec, out, epoch_};
    lru_.push_front(key);
    AX_CUDA_CHECK(cudaGraphLaunch(exec, stream_));
    return out;
  }

  std::span<const float> to_host(const Tensor& t) override {
    const size_t bytes = static_cast<size_t>(t.size()) * sizeof(float);
    auto* host = static_cast<float*>(out_host_.ensure(std::max<size_t>(bytes, 16)));
    if (bytes > 0) AX_CUDA_CHECK(cudaMemcpyAsync(host, t.data, bytes, cudaMemcpyDeviceToHost, stream_));
    AX_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return {host, static_cast<size_t>(t.size())};
  }
  void synchronize() override { AX_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  // ---- ops ---------------------------------------------------------------------------------------------
  void embedding(const Weight& table, const StepView& step, Tensor out) override {
    const CudaWeight& w = cuda_weight(table);
    cuda::embedding(w.layout, w.data(), step.tokens, step.num_tokens(), out.data, stream_);
  }
  void rms_norm(const Tensor& x, const DeviceVector& w, float eps, Tensor out) override {
    cuda::rms_norm(x.data, nullptr, w.data(), x.rows, x.cols, eps, out.data, stream_);
  }
  void add_rms_norm(Tensor x, const Tensor& y, const DeviceVector& w, float eps, Tensor out) override {
    cuda::rms_norm(x.data, y.data, w.data(), x.rows, x.cols, eps, out.data, stream_);
  }
  void linear(const Weight& w, const Tensor& x, Tensor y) override {
    const Weight* ws[] = {&w};
    const Tensor ys[] = {y};
    linear_many(ws, x, ys);
  }
  void linear_many(std::span<const Weight* const> ws, const Tensor& x, std::span<const Tensor> ys) override {
    if (ws.empty() || x.rows == 0) return;
    const int64_t kp = cuda_weight(*ws[0]).layout.cols_padded;
    uint4* xf = nullptr;
    if (needs_fragments(x.rows)) {  // once for all the weights that read x
      xf = fragments(x.rows, kp);
      to_fragments(x.data, x.rows, x.cols, x.cols, kp, xf, stream_);
    }
    for (size_t i = 0; i < ws.size(); ++i) {
      const CudaWeight& w = cuda_weight(*ws[i]);
      if (w.layout.cols != x.cols || w.layout.cols_padded != kp)
        fail("cuda linear: weight '{}' takes {} inputs, x has {}", w.name, w.layout.cols, x.cols);
      run_linear(w, x.data, x.rows, x.cols, x.cols, xf, ys[i].data, ys[i].cols);
    }
  }
  // Head h reads columns [h * in, + in) of x's rows and writes [h * out, + out) of y's: the linear
  // kernels take row strides, so each head is one launch over the strided columns.
  void linear_heads(std::span<const Weight* const> ws, const Tensor& x, Tensor y) override {
    const int64_t heads = static_cast<int64_t>(ws.size()), n = x.rows;
    if (heads == 0 || n == 0) return;
    const int64_t in = ws[0]->cols, out = ws[0]->rows;
    if (x.cols != heads * in || y.cols != heads * out || y.rows != n)
      fail("linear_heads: {} heads of {} -> {} values do not fit x [{}, {}] -> y [{}, {}]", heads, in, out, n, x.cols,
           y.rows, y.cols);
    for (int64_t h = 0; h < heads; ++h) {
      const CudaWeight& w = cuda_weight(*ws[h]);
      if (w.layout.cols != in || w.layout.rows != out)
        fail("linear_heads: weight '{}' is {} x {}, the first head's is {} x {}", w.name, w.layout.rows,
             w.layout.cols, out, in);
      uint4* xf = nullptr;
      if (needs_fragments(n)) {
        xf = fragments(n, w.layout.cols_padded);
        to_fragments(x.data + h * in, n, in, x.cols, w.layout.cols_padded, xf, stream_);
      }
      run_linear(w, x.data + h * in, n, in, x.cols, xf, y.data + h * out, y.cols);
    }
  }
  void copy_columns(const Tensor& x, int64_t col0, Tensor out) override {
    if (x.rows != out.rows || col0 < 0 || col0 + out.cols > x.cols)
      fail("copy_columns: columns [{}, {}) of [{}, {}] into [{}, {}]", col0, col0 + out.cols, x.rows, x.cols, out.rows,
           out.cols);
    cuda::copy_columns(x.data, x.cols, col0, x.rows, out.cols, out.data, stream_);
  }
  void concat_heads(const Tensor& a, const Tensor& b, int64_t heads, Tensor out) override {
    const int64_t da = a.cols / heads, db = b.cols / heads;
    if (a.cols != heads * da || b.cols != heads * db || out.cols != heads * (da + db) || a.rows != b.rows ||
        out.rows != a.rows)
      fail("concat_heads: [{}, {}] and [{}, {}] in {} heads do not make [{}, {}]", a.rows, a.cols, b.rows, b.cols,
           heads, out.rows, out.cols);
    cuda::concat_heads(a.data, da, b.data, db, a.rows, heads, out.data, stream_);
  }
  void add(Tensor y, const Tensor& x) override { cuda::add(y.data, x.data, y.size(), stream_); }
  void add_bias(Tensor y, const DeviceVector& b) override { cuda::add_bias(y.data, b.data(), y.rows, y.cols, stream_); }
  void glu(GluKind kind, Tensor gate, const Tensor& up) override {
    cuda::glu(gate.data, up.data, gate.size(), static_cast<int>(kind), stream_);
  }
  void scale(Tensor x, float s) override { cuda::scale(x.data, s, x.size(), stream_); }
  void softcap(Tensor x, float cap) override { cuda::softcap(x.data, cap, x.size(), stream_); }
  void rope(const StepView& step, Tensor q, int64_t num_q_heads, Tensor k, int64_t num_k_heads, int64_t head_dim,
            const RopeTable& r) override {
    RopeArgs a;
    a.positions = step.positions;
    a.inv_freq = r.inv_freq.data();
    a.attention_factor = r.freqs.attention_factor;
    a.rotary_dim = r.freqs.rotary_dim;
    a.adjacent_pairs = r.freqs.adjacent_pairs;
    cuda::rope(q.data, q.cols, num_q_heads, k.data, k.cols, num_k_heads, head_dim, step.num_tokens(), a, stream_);
  }
  void write_kv(const StepView& step, KvCache& kv, int64_t layer, const Tensor& k, const Tensor& v) override {
    const bool with_v = !kv.v_in_k();  // else V lies in the K rows just written
    cuda::write_kv(kv_layer(kv, layer), kv.k_data(layer), with_v ? kv.v_data(layer) : nullptr, k.data,
                   with_v ? v.data : nullptr, step.slots, step.num_tokens(), kv.num_kv_heads(), kv.head_dim(layer), stream_);
  }
  void attention(const StepView& step, const KvCache& kv, int64_t layer, const Tensor& q, Tensor out,
                 const AttentionParams& p) override {
    AttentionArgs a;
    a.q = q.data;
    a.out = out.data;
    a.T = step.num_tokens();
    a.heads = p.num_heads;
    a.kv_heads = p.num_kv_heads;
    a.head_dim = p.head_dim;
    a.v_dim = p.v_dim();
    if (a.v_dim != a.head_dim && !kv.v_in_k())
      fail("attention: V of {} values per head over K rows of {} needs a cache whose V lies in K", a.v_dim, a.head_dim);
    a.scale = p.scale;
    a.window = p.window;
    a.softcap = p.softcap;
    a.sinks = p.sinks != nullptr ? p.sinks->data() : nullptr;
    a.positions = step.positions;
    a.token_seq = step.token_seq;
    a.table_begin = step.table_begin;
    a.block_tables = step.block_tables;
    a.kv = kv_layer(kv, layer);
    a.max_context = step.host->max_context();
    const size_t floats = attention_scratch_floats(a, kAttentionScratchCap);
    float* scratch = floats == 0 ? nullptr : ensure(attn_scratch_, floats * sizeof(float))->as<float>();
    cuda::attention(a, scratch, floats, stream_);
  }
  void gather_logit_rows(const StepView& step, const Tensor& x, Tensor out) override {
    gather_rows(x.data, x.cols, step.logit_rows, out.rows, out.data, stream_);
  }

  // Routing on the host (the router logits come back: a sync, so steps of MoE models are not
  // recorded as graphs), then each expert's rows gathered, run through its MLP, scattered to their
  // slots, and each row's experts summed in expert order.
  void moe(const Tensor& x, const Tensor& router_logits, std::span<const MoeExpert> experts, const MoeParams& p,
           Tensor out) override {
    const int64_t T = x.rows, H = x.cols, E = static_cast<int64_t>(experts.size()), k = p.routing.top_k;
    if (router_logits.rows != T || router_logits.cols != E || k < 1 || k > E)
      fail("moe: {} router logits of {} experts for {} rows, top {}", router_logits.rows, router_logits.cols, T, k);
    std::vector<float> logits(static_cast<size_t>(T * E));
    copy_to_host(logits.data(), router_logits.data, logits.size() * sizeof(float));
    std::vector<int32_t> ids(T * k), tokens, slots;
    std::vector<float> weights(T * k);
    for (int64_t t = 0; t < T; ++t)
      route_experts(logits.data() + t * E, E, p.routing, &ids[t * k], &weights[t * k]);
    std::vector<int64_t> begin(E + 1, 0);  // expert e's rows: [begin[e], begin[e + 1]) of tokens/slots
    for (int64_t e = 0; e < E; ++e) {
      begin[e] = static_cast<int64_t>(tokens.size());
      for (int64_t i = 0; i < T * k; ++i)
        if (ids[i] == e) {
          tokens.push_back(static_cast<int32_t>(i / k));
          slots.push_back(static_cast<int32_t>(i));
        }
    }
    begin[E] = static_cast<int64_t>(tokens.size());
    int64_t widest = 0, most = 0;
    for (int64_t e = 0; e < E; ++e) {
      widest = std::max(widest, experts[e].gate->rows);
      most = std::max(most, begin[e + 1] - begin[e]);
    }
    // Scratch: ids (tokens, slots), weights, gathered rows, gate/up, down, one row per (token, expert).
    const size_t n_all = tokens.size();
    uint8_t* base = ensure(moe_scratch_, align16(2 * n_all * 4) + align16(n_all * 4) +
                                             (most * (2 * H + 2 * widest) + n_all * H) * sizeof(float))
                        ->as<uint8_t>();
    auto* d_tokens = reinterpret_cast<int32_t*>(base);
    int32_t* d_slots = d_tokens + n_all;
    auto* d_weights = reinterpret_cast<float*>(base + align16(2 * n_all * 4));
    float* gathered = reinterpret_cast<float*>(base + align16(2 * n_all * 4) + align16(n_all * 4));
    float* g = gathered + most * H;
    float* u = g + most * widest;
    float* d = u + most * widest;
    float* results = d + most * H;
    copy_to_device(d_tokens, tokens.data(), n_all * 4);
    copy_to_device(d_slots, slots.data(), n_all * 4);
    copy_to_device(d_weights, weights.data(), n_all * 4);
    for (int64_t e = 0; e < E; ++e) {
      const int64_t n = begin[e + 1] - begin[e], I = experts[e].gate->rows;
      if (n == 0) continue;
      gather_rows(x.data, H, d_tokens + begin[e], n, gathered, stream_);
      const Tensor xs{gathered, n, H}, gs{g, n, I}, us{u, n, I}, ds{d, n, H};
      const Weight* gate_up[] = {experts[e].gate, experts[e].up};
      const Tensor gate_up_y[] = {gs, us};
      linear_many(gate_up, xs, gate_up_y);
      if (experts[e].gate_bias) add_bias(gs, *experts[e].gate_bias);
      if (experts[e].up_bias) add_bias(us, *experts[e].up_bias);
      glu(p.activation, gs, us);
      linear(*experts[e].down, gs, ds);
      if (experts[e].down_bias) add_bias(ds, *experts[e].down_bias);
      scatter_rows(d, H, d_slots + begin[e], n, results, stream_);
    }
    weighted_rows(results, d_weights, T, k, H, out.data, out.cols, stream_);
  }

 private:
  void upload(const TensorView& t, CudaWeight& w) {
    w.dtype = t.dtype;
    w.rows = t.rows();
    w.cols = t.cols();
    w.name = t.name;
    w.layout = device_layout(t.dtype, w.rows, w.cols);
    const std::vector<uint8_t> bytes = repack_for_device(t, w.layout);
    w.buf = std::make_shared<DeviceBuffer>(alloc(bytes.size()));
    copy_to_device(w.buf->data(), bytes.data(), bytes.size());
  }

  // y [n, ldy] = x [n, k] (rows ldx apart) . W^T; xf: x's fragments where the call needs them.
  void run_linear(const CudaWeight& w, const float* x, int64_t n, int64_t k, int64_t ldx, const uint4* xf, float* y,
                  int64_t ldy) {
    LinearArgs a;
    a.w = w.data();
    a.row_stride = w.layout.row_stride;
    a.m = w.layout.rows;
    a.kp = w.layout.cols_padded;
    a.chunks = static_cast<int>(a.kp / 256);
    a.slice_chunks = slice_chunks_for(a.chunks);
    a.xf = xf;
    a.x = x;
    a.ldx = ldx;
    a.k = k;
    a.n = n;
    a.y = y;
    a.ldy = ldy;
    linear_fragments(w.layout.type, a, stream_);
  }

  KvLayer kv_layer(const KvCache& kv, int64_t layer) const {
    if (&kv.backend() != static_cast<const Backend*>(this)) fail("cuda: the KV cache lives on another backend");
    KvLayer l;
    l.k = kv.k_data(layer);
    l.v = kv.v_data(layer);
    l.f16 = kv.type() == KvType::F16;
    l.head_stride = kv.head_stride(layer);
    l.block_size = kv.block_size();
    return l;
  }

  // A scratch buffer of at least `bytes` (grown, never shrunk).
  DeviceBuffer* ensure(DeviceBuffer& b, size_t bytes) {
    if (b.bytes() < bytes) {
      b.reset();
      b = alloc(bytes + bytes / 4);
    }
    return &b;
  }
  uint4* fragments(int64_t n, int64_t kp) {
    return ensure(xf_, static_cast<size_t>(fragment_blocks(n) * kp) * 16)->as<uint4>();
  }

  // The step's arrays in one pinned buffer and one copy; block tables last, so every other array's
  // offset depends only on the token, sequence and logit-row counts (a recorded graph's key).
  StepView upload_step(const StepInput& in) {
    const size_t T = in.tokens.size(), S1 = in.seq_begin.size(), R = in.logit_rows.size(), B = in.block_tables.size();
    size_t off = 0;
    auto place = [&](size_t count) {
      const size_t at = off;
      off += align16(std::max<size_t>(count, 1) * sizeof(int32_t));
      return at;
    };
    const size_t o_tok = place(T), o_pos = place(T), o_slot = place(T), o_seq = place(T), o_sb = place(S1),
                 o_tb = place(S1), o_lr = place(R), o_bt = place(B);
    // The last step's copy must be done before the staging buffer is rewritten.
    if (upload_pending_) AX_CUDA_CHECK(cudaStreamSynchronize(stream_));
    auto* host = static_cast<uint8_t*>(step_host_.ensure(off));
    auto put = [&](size_t at, const std::vector<int32_t>& v) { std::memcpy(host + at, v.data(), v.size() * 4); };
    put(o_tok, in.tokens);
    put(o_pos, in.positions);
    put(o_slot, in.slots);
    put(o_seq, in.token_seq);
    put(o_sb, in.seq_begin);
    put(o_tb, in.table_begin);
    put(o_lr, in.logit_rows);
    put(o_bt, in.block_tables);
    uint8_t* dev = ensure(step_dev_, off)->as<uint8_t>();
    AX_CUDA_CHECK(cudaMemcpyAsync(dev, host, off, cudaMemcpyHostToDevice, stream_));
    upload_pending_ = true;
    StepView v;
    v.host = &in;
    auto at = [&](size_t o) { return reinterpret_cast<const int32_t*>(dev + o); };
    v.tokens = at(o_tok);
    v.positions = at(o_pos);
    v.slots = at(o_slot);
    v.token_seq = at(o_seq);
    v.seq_begin = at(o_sb);
    v.table_begin = at(o_tb);
    v.logit_rows = at(o_lr);
    v.block_tables = at(o_bt);
    return v;
  }

  void touch(const GraphKey& key) {
    lru_.remove_if([&](const GraphKey& k) { return !(k < key) && !(key < k); });
    lru_.push_front(key);
  }
  void forget(std::map<GraphKey, Recorded>::iterator it) {
    if (it == graphs_by_key_.end()) return;
    const GraphKey key = it->first;
    cudaGraphExecDestroy(it->second.exec);
    graphs_by_key_.erase(it);
    lru_.remove_if([&](const GraphKey& k) { return !(k < key) && !(key < k); });
  }
  void drop_graphs() {
    for (auto& [k, r] : graphs_by_key_) cudaGraphExecDestroy(r.exec);
    graphs_by_key_.clear();
    lru_.clear();
  }

  int device_;
  double fraction_;
  std::string desc_;
  cudaStream_t stream_ = nullptr;
  bool graphs_ = true;
  uint64_t epoch_ = 0;
  PinnedBuffer step_host_, out_host_;
  bool upload_pending_ = false;
  DeviceBuffer step_dev_, xf_, attn_scratch_, moe_scratch_;
  std::map<GraphKey, Recorded> graphs_by_key_;
  std::list<GraphKey> lru_;
  std::set<GraphKey> seen_once_, unrecordable_;
};

}  // namespace

std::vector<GpuDeviceInfo> list_devices(std::string* error) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (error) *error = cudaGetErrorString(err);
    return {};
  }
  std::vector<GpuDeviceInfo> out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    out.push_back({i, p.name, static_cast<int64_t>(p.totalGlobalMem >> 20), fmt::format("{}.{}", p.major, p.minor)});
  }
  if (out.empty() && error) *error = "the driver reports no CUDA device";
  return out;
}

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) { return std::make_unique<CudaBackend>(options); }

}  // namespace ax::cuda
