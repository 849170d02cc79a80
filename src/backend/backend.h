#pragma once
// The backend boundary: device memory, weights uploaded once, and the ops every architecture's
// forward pass is written with. A model is written once against this interface; `cpu/` (always
// built) and `cuda/` (built when nvcc is found) implement it.
//
// Conventions:
// - Activations are float32 row-major `Tensor`s [rows, cols] in the backend's memory (host memory
//   for the CPU, device memory for CUDA). Ops are enqueued in order on the backend's one stream;
//   results are ready for the host after to_host() or synchronize().
// - Weights are `Weight` handles owned by the model: uploaded once, quantized types stay
//   quantized (in the stored GGUF layout or a backend's repacked one).
// - One step's flat input (tokens, positions, K/V slots, block tables, logit rows: StepInput) is
//   uploaded once per step; ops that need it take the resulting StepView.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/moe_routing.h"
#include "backend/rope_freqs.h"
#include "backend/step_input.h"
#include "format/tensor.h"

namespace ax {

class Backend;
class KvCache;

// A float32 [rows, cols] row-major array in a backend's memory (not owned).
struct Tensor {
  float* data = nullptr;
  int64_t rows = 0, cols = 0;

  int64_t size() const { return rows * cols; }
  // Rows [r0, r0 + n).
  Tensor slice_rows(int64_t r0, int64_t n) const { return {data + r0 * cols, n, cols}; }
  // The same values seen as [size / cols, cols] (e.g. [T, heads * head_dim] as [T * heads, head_dim]).
  Tensor reshape(int64_t new_cols) const { return {data, size() / new_cols, new_cols}; }
};

// Memory in a backend's address space, freed with the handle.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(void* data, size_t bytes, std::function<void(void*)> release)
      : data_(data), bytes_(bytes), release_(std::move(release)) {}
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = o.data_;
      bytes_ = o.bytes_;
      release_ = std::move(o.release_);
      o.data_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  void reset() {
    if (data_ != nullptr && release_) release_(data_);
    data_ = nullptr;
    bytes_ = 0;
  }
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  std::function<void(void*)> release_;
};

// float32 values in a backend's memory: norm weights, biases, RoPE frequencies.
struct DeviceVector {
  DeviceBuffer buf;
  int64_t size = 0;
  const float* data() const { return buf.as<const float>(); }
  bool empty() const { return size == 0; }
};

// A model's RoPE frequencies (rope_freqs.h) with a copy of inv_freq in the backend's memory.
struct RopeTable {
  RopeFreqs freqs;
  DeviceVector inv_freq;  // [rotary_dim / 2]
};

// A weight matrix {rows = out, cols = in} uploaded to a backend; what lies behind it is the
// backend's business (the CPU keeps the mapped bytes and maybe a repacked copy).
struct Weight {
 public:
  virtual ~Weight() = default;
  DType dtype = DType::F32;  // as stored in the model file
  int64_t rows = 0, cols = 0;
  std::string name;
};
using WeightPtr = std::unique_ptr<Weight>;

// The device side of one step's StepInput, as the ops read it. `host` is the StepInput itself
// (sizes, and the CPU backend reads everything from it).
struct StepView {
  const StepInput* host = nullptr;
  const int32_t* tokens = nullptr;        // [T]
  const int32_t* positions = nullptr;     // [T]
  const int32_t* slots = nullptr;         // [T]
  const int32_t* seq_begin = nullptr;     // [S + 1]
  const int32_t* table_begin = nullptr;   // [S + 1]
  const int32_t* block_tables = nullptr;  // [table_begin[S]]
  const int32_t* logit_rows = nullptr;    // [R]
  const int32_t* token_seq = nullptr;     // [T]: the sequence of each token
  int64_t num_tokens() const { return host->num_tokens(); }
};

// One attention layer's shape and options.
struct AttentionParams {
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // query head h reads kv head h / (num_heads / num_kv_heads)
  int64_t head_dim = 0;      // q and k width per head
  // v (and output) width per head; 0: head_dim. Less than head_dim only over a cache whose V is the
  // prefix of each K row (KvShape::v_in_k, MLA's latent: K = [c_kv | k_rope], V = c_kv).
  int64_t v_head_dim = 0;
  float scale = 0.0f;        // score = q . k * scale
  int64_t window = 0;        // sliding window W: position p sees keys j with p - W < j <= p; 0: all
  float softcap = 0.0f;      // > 0: score -> softcap * tanh(score / softcap) (Gemma 2)
  // Attention sinks (gpt-oss): one logit per query head [num_heads] that joins every softmax (its
  // max and its sum) without a value; null: none.
  const DeviceVector* sinks = nullptr;

  int64_t v_dim() const { return v_head_dim > 0 ? v_head_dim : head_dim; }
};

// The gate activation of a gated MLP: gate = act(gate) * up.
enum class GluKind {
  Silu,         // SwiGLU
  GeluTanh,     // GeGLU, GELU with the tanh approximation
  SiluClamped,  // gpt-oss: (clamp(up, -7, 7) + 1) * g * sigmoid(1.702 g), g = min(gate, 7)
};
inline constexpr float kGluClampLimit = 7.0f, kGluClampAlpha = 1.702f;

// A mixture-of-experts feed-forward block (see Backend::moe).
struct MoeExpert {
  const Weight* gate = nullptr;  // [expert intermediate, hidden]
  const Weight* up = nullptr;    // [expert intermediate, hidden]
  const Weight* down = nullptr;  // [hidden, expert intermediate]
  const DeviceVector* gate_bias = nullptr;  // biases (gpt-oss); null: none
  const DeviceVector* up_bias = nullptr;
  const DeviceVector* down_bias = nullptr;
};
struct MoeParams {
  MoeRoutingParams routing;
  GluKind activation = GluKind::Silu;
};

// One gated-delta linear-attention layer (Qwen3-Next, Qwen3.5; Backend::gated_delta). Per token:
// qkv = [q (num_k_heads x k_head_dim) | k (the same) | v (num_v_heads x v_head_dim)] goes through a
// causal depthwise conv of conv_kernel taps (the sequence's last conv_kernel - 1 inputs are kept in
// its state) and SiLU; q and k are L2-normalised per head (eps 1e-6) and q scaled by k_head_dim^-0.5;
// value head h reads key head h / (num_v_heads / num_k_heads), or h % num_k_heads when
// v_heads_tiled. With g = neg_a[h] * softplus(a[h] +
// dt_bias[h]) and beta = sigmoid(b[h]), its state S [k_head_dim, v_head_dim] becomes
//   S = exp(g) S;  S += k (beta (v - S^T k))^T;  out = S^T q.
struct GatedDeltaParams {
  int64_t num_k_heads = 0, num_v_heads = 0, k_head_dim = 0, v_head_dim = 0, conv_kernel = 0;
  bool v_heads_tiled = false;  // GatedDeltaConfig::v_heads_tiled
  const DeviceVector* conv = nullptr;     // [channels * conv_kernel]: channel c's taps, oldest input first
  const DeviceVector* neg_a = nullptr;    // [num_v_heads]: -exp(A_log)
  const DeviceVector* dt_bias = nullptr;  // [num_v_heads]
  // Where this layer's state starts in a sequence's slot (floats): conv inputs [conv_kernel - 1,
  // channels] (oldest first), then the states [num_v_heads, k_head_dim, v_head_dim].
  int64_t state_offset = 0;

  int64_t key_width() const { return num_k_heads * k_head_dim; }
  int64_t channels() const { return 2 * key_width() + num_v_heads * v_head_dim; }
};

struct MemoryInfo {
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;
};

// What the KV pool may take when the user names no budget, and where that number came from.
struct KvBudget {
  int64_t bytes = 0;
  std::string source;  // "25% of MemAvailable 12.3 GiB"
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;         // "cpu", "cuda"
  virtual std::string description() const = 0;  // e.g. "cpu (avx512, 16 threads)", "cuda:0 NVIDIA H100 80GB HBM3"

  // ---- memory ----------------------------------------------------------------------------------
  // Zero-filled memory of at least `bytes` bytes on the backend's device.
  virtual DeviceBuffer alloc(size_t bytes) = 0;
  virtual void copy_to_device(void* dst, const void* src, size_t bytes) = 0;  // synchronous
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;    // synchronous
  virtual MemoryInfo memory() const = 0;
  // The device's measured read bandwidth in GB/s (best of repeated passes over a buffer far larger
  // than its caches): decode speed is judged against it.
  virtual double measure_read_bandwidth_gbps() = 0;
  // What the KV pool may take when the user names no budget: a share of what is free.
  virtual KvBudget default_kv_budget() const = 0;

  // ---- weights (once, at load) -----------------------------------------------------------------
  // Linear weights {out, in}, listed in the order a decode step reads them (a backend may lay them
  // out in that order). The same TensorView listed twice gives two handles on one upload.
  virtual std::vector<WeightPtr> load_linears(const std::vector<const TensorView*>& ws) = 0;
  // A table read by rows (an embedding), in its stored dtype.
  virtual WeightPtr load_table(const TensorView& t) = 0;
  DeviceVector load_vector(std::span<const float> v);
  RopeTable load_rope(const RopeFreqs& f);

  // ---- one step ----------------------------------------------------------------------------------
  // Uploads `in` and runs body(view), which enqueues the step's ops over `kv` and returns its output
  // tensor. With `replayable`, a backend may record the body as a graph and replay it for later
  // steps of the same shape (number of tokens, sequences and logit rows, the same cache) instead of
  // calling it again (CUDA graphs): the body must then enqueue the same ops for every step of that
  // shape, whatever its values (tokens, positions, tables).
  virtual Tensor run_step(const StepInput& in, const KvCache& kv, bool replayable,
                          const std::function<Tensor(const StepView&)>& body) = 0;
  // t's values, ready on the host: the pointer is valid until the next run_step or to_host.
  virtual std::span<const float> to_host(const Tensor& t) = 0;
  virtual void synchronize() = 0;

  // ---- ops (enqueued; shapes are checked by the callers, the model) -----------------------------
  // out[i, :] = table[step.tokens[i], :] as float32; out: [T, dim].
  virtual void embedding(const Weight& table, const StepView& step, Tensor out) = 0;
  // out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w; out may alias x.
  virtual void rms_norm(const Tensor& x, const DeviceVector& w, float eps, Tensor out) = 0;
  // y[n, out] = x[n, in] . W^T.
  virtual void linear(const Weight& w, const Tensor& x, Tensor y) = 0;
  // ys[i] = x . W_i^T for weights that read the same x (q/k/v, gate/up); one pass where possible.
  virtual void linear_many(std::span<const Weight* const> ws, const Tensor& x, std::span<const Tensor> ys);
  // A weight per head (MLA's absorbed projections): x [n, heads * in], y [n, heads * out], every
  // ws[h] {out, in}; y[:, h * out .. + out) = x[:, h * in .. + in) . W_h^T, heads = ws.size(). Each
  // head's rows are computed as linear() computes them.
  virtual void linear_heads(std::span<const Weight* const> ws, const Tensor& x, Tensor y) = 0;
  // Per head, a's values then b's: a [n, heads * da], b [n, heads * db] -> out [n, heads * (da + db)]
  // (MLA: the latent query and the rotated one; the latent and k_rope into one cache row).
  virtual void concat_heads(const Tensor& a, const Tensor& b, int64_t heads, Tensor out) = 0;
  // Columns [col0, col0 + out.cols) of every row: out[r, :] = x[r, col0 ..]; x and out have the
  // same rows (Gemma 4: one layer's slice of the per-layer inputs [T, layers * width]).
  virtual void copy_columns(const Tensor& x, int64_t col0, Tensor out) = 0;
  virtual void add(Tensor y, const Tensor& x) = 0;                     // y += x
  // The residual add and the next sub-block's norm in one pass: x += y, then out = rms_norm(x, w).
  virtual void add_rms_norm(Tensor x, const Tensor& y, const DeviceVector& w, float eps, Tensor out);
  virtual void add_bias(Tensor y, const DeviceVector& b) = 0;          // y[r, :] += b
  virtual void glu(GluKind kind, Tensor gate, const Tensor& up) = 0;  // gate = act(gate) * up
  virtual void scale(Tensor x, float s) = 0;                           // x *= s
  virtual void softcap(Tensor x, float cap) = 0;                       // x = cap * tanh(x / cap)
  // Rotates q [T, num_q_heads * head_dim] and k [T, num_k_heads * head_dim] in place, token t at
  // step.positions[t].
  virtual void rope(const StepView& step, Tensor q, int64_t num_q_heads, Tensor k, int64_t num_k_heads,
                    int64_t head_dim, const RopeTable& rope) = 0;
  // K/V rows [T, num_kv_heads * head_dim] of every token into its slot of layer `layer` (K alone
  // for a cache whose V lies in K, KvShape::v_in_k: v is then not read).
  virtual void write_kv(const StepView& step, KvCache& kv, int64_t layer, const Tensor& k, const Tensor& v) = 0;
  // Causal attention of every token of the step over its own sequence's cached K/V (its own K/V
  // already written): out[t, h] = sum_j softmax_j(q[t, h] . k_j * scale) v_j over the visible j.
  // q: [T, num_heads * head_dim], out: [T, num_heads * p.v_dim()].
  virtual void attention(const StepView& step, const KvCache& kv, int64_t layer, const Tensor& q, Tensor out,
                         const AttentionParams& p) = 0;
  // out[i, :] = x[step.logit_rows[i], :]; out: [R, cols].
  virtual void gather_logit_rows(const StepView& step, const Tensor& x, Tensor out) = 0;
  // Mixture of experts: each row t of x [T, hidden] goes to the experts its router logits
  // [T, num_experts] pick (p.routing, backend/moe_routing.h); out[t] = sum over its experts, in
  // expert order, of weight * down(act(gate(x_t)) * up(x_t)) (biases where given). Each row's
  // result depends only on that row.
  virtual void moe(const Tensor& x, const Tensor& router_logits, std::span<const MoeExpert> experts,
                   const MoeParams& p, Tensor out) = 0;

  // ---- hybrid (recurrent) models: backends that lack these say so at model load -------------------
  // Whether gated_delta and sigmoid_mul are implemented here.
  virtual bool supports_gated_delta() const { return false; }
  // x *= sigmoid(gate): gate [rows, x.cols] elementwise, or [rows, 1] one gate per row.
  virtual void sigmoid_mul(Tensor x, const Tensor& gate);
  // Gated-delta linear attention (GatedDeltaParams) of every token of the step, in position order
  // within each sequence, over that sequence's recurrent state (kv.state_data(step slot) +
  // p.state_offset), which it advances; a sequence whose first token is at position 0 starts from
  // a zero state. qkv [T, channels] is overwritten (conv output); a, b [T, num_v_heads];
  // out [T, num_v_heads * v_head_dim].
  virtual void gated_delta(const StepView& step, KvCache& kv, const GatedDeltaParams& p, Tensor qkv, const Tensor& a,
                           const Tensor& b, Tensor out);
};

// A bump allocator of Tensors over one backend buffer, reset every step. Grows (reallocating)
// only between steps, when a step needs more than the last.
class Workspace {
 public:
  explicit Workspace(Backend& be) : be_(be) {}
  // Makes room for `floats` values in total (call before take(); invalidates earlier tensors).
  void reserve(int64_t floats);
  void reset() { used_ = 0; }
  Tensor take(int64_t rows, int64_t cols);
  size_t capacity_bytes() const { return buf_.bytes(); }

 private:
  Backend& be_;
  DeviceBuffer buf_;
  int64_t used_ = 0;  // floats
};

// ---- choosing a backend ---------------------------------------------------------------------------
struct BackendOptions {
  std::string kind = "auto";  // "cpu", "cuda", "auto" (a GPU when one is present)
  int device = 0;             // CUDA device index
  int threads = 0;            // CPU compute threads (0: all hardware threads)
  bool reference = false;     // CPU: scalar float32 reference ops only (the oracle; tests)
  bool batch_invariant = true;
  double gpu_memory_fraction = 0.9;  // share of free device memory the KV pool may take
};

std::unique_ptr<Backend> make_backend(const BackendOptions& opts);

// What `doctor` reports.
struct GpuDeviceInfo {
  int index = 0;
  std::string name;
  int64_t memory_mb = 0;
  std::string compute_capability;  // "9.0"
};
bool cuda_compiled();
// Devices found (empty without a driver or a GPU); error says why when there are none.
std::vector<GpuDeviceInfo> cuda_devices(std::string* error = nullptr);

// One backend as this build and machine have it: "cpu" (always) and "cuda".
struct BackendReport {
  std::string name;
  bool compiled = false;
  bool usable = false;
  std::string detail;                  // the CPU's model, or why no GPU is usable
  std::vector<std::string> features;   // CPU: instruction-set features
  std::string kernel_tier;             // CPU: scalar, avx2, avx2-vnni, avx512, avx512+amx (kernels::kernel_tier)
  std::vector<GpuDeviceInfo> devices;  // CUDA
};
std::vector<BackendReport> backend_reports();

}  // namespace ax
