#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "backend/cpu/gated_delta.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/memory_bandwidth.h"
#include "backend/cpu/reference.h"
#include "backend/kv_cache.h"
#include "backend/moe_routing.h"
#include "util/error.h"
#include "util/half.h"
#include "util/huge_buffer.h"
#include "util/system_memory.h"
#include "util/thread_pool.h"

namespace ax::cpu {
namespace {

// A weight read in place from the model file, plus its tile-packed copy where the fast kernels
// have one for it.
class CpuWeight final : public Weight {
 public:
  TensorView view;
  std::shared_ptr<const kernels::PackedMatrix> packed;
};

const CpuWeight& cpu_weight(const Weight& w) {
  const auto* c = dynamic_cast<const CpuWeight*>(&w);
  if (c == nullptr) fail("cpu backend: weight '{}' was not loaded by a CPU backend", w.name);
  return *c;
}

// The default share of MemAvailable the KV pool takes on the CPU (the weights share that memory).
constexpr double kKvMemoryFraction = 0.25;

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& o) : reference_(o.reference), batch_invariant_(o.batch_invariant) {
    set_default_threads(o.threads);
    const char* env = std::getenv("AX_PACKED_WEIGHTS");  // "0": read weights in place (A/B measurements)
    pack_ = !reference_ && !(env != nullptr && std::string(env) == "0");
  }

  std::string name() const override { return "cpu"; }
  std::string description() const override {
    return reference_ ? "cpu (scalar reference)"
                      : fmt::format("cpu ({}, {} threads)", kernels::kernel_tier(), threads());
  }

  DeviceBuffer alloc(size_t bytes) override {
    // Huge pages: the big buffers (KV pool, activations) are streamed every step. Every page is
    // touched now, not inside the first steps: a fault zeroes a whole 2 MiB page, and thousands of
    // them inside the first prefill cost it 10-25 %.
    auto* hb = new HugeBuffer(std::max<size_t>(bytes, 1));
    std::memset(hb->data(), 0, bytes);
    return DeviceBuffer(hb->data(), bytes, [hb](void*) { delete hb; });
  }
  void copy_to_device(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  MemoryInfo memory() const override { return {total_memory_bytes(), available_memory_bytes()}; }
  double measure_read_bandwidth_gbps() override { return cpu::measure_read_bandwidth_gbps(default_thread_pool(), 1.0); }
  KvBudget default_kv_budget() const override {
    const int64_t avail = available_memory_bytes();
    if (avail <= 0) return {int64_t{1} << 30, "1 GiB (MemAvailable unreadable)"};
    return {static_cast<int64_t>(avail * kKvMemoryFraction),
            fmt::format("{:.0f}% of MemAvailable {:.1f} GiB", kKvMemoryFraction * 100, avail / double(1 << 30))};
  }

  std::vector<WeightPtr> load_linears(const std::vector<const TensorView*>& ws) override {
    std::vector<std::shared_ptr<const kernels::PackedMatrix>> packed(ws.size());
    if (pack_) packed = kernels::pack_linears(ws);
    std::vector<WeightPtr> out;
    for (size_t i = 0; i < ws.size(); ++i) {
      auto w = make_weight(*ws[i]);
      w->packed = std::move(packed[i]);
      out.push_back(std::move(w));
    }
    return out;
  }
  WeightPtr load_table(const TensorView& t) override { return make_weight(t); }

  Tensor run_step(const StepInput& in, const KvCache&, bool, const std::function<Tensor(const StepView&)>& body) override {
    StepView v;
    v.host = &in;
    v.tokens = in.tokens.data();
    v.positions = in.positions.data();
    v.slots = in.slots.data();
    v.seq_begin = in.seq_begin.data();
    v.table_begin = in.table_begin.data();
    v.block_tables = in.block_tables.data();
    v.logit_rows = in.logit_rows.data();
    v.token_seq = in.token_seq.data();
    return body(v);
  }
  std::span<const float> to_host(const Tensor& t) override { return {t.data, static_cast<size_t>(t.size())}; }
  void synchronize() override {}

  void embedding(const Weight& table, const StepView& step, Tensor out) override {
    ref::embedding(cpu_weight(table).view, step.tokens, step.num_tokens(), out.data);
  }

  void rms_norm(const Tensor& x, const DeviceVector& w, float eps, Tensor out) override {
    const int64_t n = x.rows, dim = x.cols;
    // Rows are independent: many of them (prefill, verify, per-head q/k norms) split over the pool,
    // each row computed the same way whatever the split.
    if (reference_) {
      ref::rms_norm(x.data, w.data(), n, dim, eps, out.data);
      return;
    }
    if (n * dim < (1 << 14) || threads() <= 1) {
      kernels::rms_norm(x.data, w.data(), n, dim, eps, out.data);
      return;
    }
    default_thread_pool().parallel_for(n, std::max<int64_t>(1, 4096 / dim), [&](int64_t r0, int64_t r1) {
      kernels::rms_norm(x.data + r0 * dim, w.data(), r1 - r0, dim, eps, out.data + r0 * dim);
    });
  }

  void linear(const Weight& w, const Tensor& x, Tensor y) override {
    const CpuWeight& cw = cpu_weight(w);
    if (!reference_) {
      if (cw.packed != nullptr) {
        kernels::matmul_packed(*cw.packed, x.data, x.rows, y.data);
        return;
      }
      if (kernels::matmul(cw.view.dtype, cw.view.data, cw.rows, cw.cols, x.data, x.rows, y.data,
                          kernels::best_isa(), nullptr, batch_invariant_))
        return;
    }
    ref::linear(cw.view, x.data, x.rows, y.data, threads());
  }

  void linear_many(std::span<const Weight* const> ws, const Tensor& x, std::span<const Tensor> ys) override {
    constexpr size_t kMax = 8;
    const kernels::PackedMatrix* ms[kMax];
    float* yp[kMax];
    bool packed = !reference_ && ws.size() <= kMax;
    for (size_t i = 0; packed && i < ws.size(); ++i) {
      ms[i] = cpu_weight(*ws[i]).packed.get();
      yp[i] = ys[i].data;
      packed = ms[i] != nullptr && kernels::can_share_acts(*ms[0], *ms[i]);
    }
    if (packed) {
      kernels::matmul_packed_many(ms, yp, static_cast<int>(ws.size()), x.data, x.rows);
      return;
    }
    Backend::linear_many(ws, x, ys);
  }

  // Each head's columns of x gathered into rows of their own, its linear, the result scattered into
  // its columns of y; heads split over the pool (a head's linear then runs on that thread alone:
  // the kernels compute every row the same way whatever the thread or the rows beside it).
  void linear_heads(std::span<const Weight* const> ws, const Tensor& x, Tensor y) override {
    const int64_t heads = static_cast<int64_t>(ws.size()), n = x.rows;
    if (heads == 0 || n == 0) return;
    const int64_t in = ws[0]->cols, out = ws[0]->rows;
    for (const Weight* w : ws)
      if (w->cols != in || w->rows != out)
        fail("linear_heads: weight '{}' is {} x {}, the first head's is {} x {}", w->name, w->rows, w->cols, out, in);
    if (x.cols != heads * in || y.cols != heads * out || y.rows != n)
      fail("linear_heads: {} heads of {} -> {} values do not fit x [{}, {}] -> y [{}, {}]", heads, in, out, n, x.cols,
           y.rows, y.cols);
    auto head = [&](int64_t h) {
      thread_local std::vector<float> xs, ys;
      xs.resize(static_cast<size_t>(n * in));
      ys.resize(static_cast<size_t>(n * out));
      for (int64_t r = 0; r < n; ++r) std::copy_n(x.data + r * x.cols + h * in, in, xs.data() + r * in);
      linear(*ws[h], Tensor{xs.data(), n, in}, Tensor{ys.data(), n, out});
      for (int64_t r = 0; r < n; ++r) std::copy_n(ys.data() + r * out, out, y.data + r * y.cols + h * out);
    };
    if (reference_ || threads() <= 1) {
      for (int64_t h = 0; h < heads; ++h) head(h);
      return;
    }
    default_thread_pool().parallel_for(heads, 1, [&](int64_t h0, int64_t h1) {
      for (int64_t h = h0; h < h1; ++h) head(h);
    });
  }

  void concat_heads(const Tensor& a, const Tensor& b, int64_t heads, Tensor out) override {
    const int64_t da = a.cols / heads, db = b.cols / heads;
    if (a.cols != heads * da || b.cols != heads * db || out.cols != heads * (da + db) || a.rows != b.rows ||
        out.rows != a.rows)
      fail("concat_heads: [{}, {}] and [{}, {}] in {} heads do not make [{}, {}]", a.rows, a.cols, b.rows, b.cols,
           heads, out.rows, out.cols);
    tokens(a.rows, out.cols, [&](int64_t t) {
      for (int64_t h = 0; h < heads; ++h) {
        float* o = out.data + t * out.cols + h * (da + db);
        std::copy_n(a.data + t * a.cols + h * da, da, o);
        std::copy_n(b.data + t * b.cols + h * db, db, o + da);
      }
    });
  }

  // A copy: the reference loop is as fast as anything here (a few columns of T rows).
  void copy_columns(const Tensor& x, int64_t col0, Tensor out) override {
    if (x.rows != out.rows || col0 < 0 || col0 + out.cols > x.cols)
      fail("copy_columns: columns [{}, {}) of [{}, {}] into [{}, {}]", col0, col0 + out.cols, x.rows, x.cols, out.rows,
           out.cols);
    ref::copy_columns(x.data, x.cols, col0, x.rows, out.cols, out.data);
  }

  void add(Tensor y, const Tensor& x) override {
    if (reference_) return ref::add(y.data, x.data, y.size());
    elementwise(y.size(), [&](int64_t b, int64_t e) { kernels::add(y.data + b, x.data + b, e - b); });
  }
  void add_bias(Tensor y, const DeviceVector& b) override { ref::add_bias(y.data, b.data(), y.rows, y.cols); }
  void glu(GluKind kind, Tensor gate, const Tensor& up) override {
    elementwise(gate.size(), [&](int64_t b, int64_t e) {
      if (kind == GluKind::GeluTanh) ref::geglu(gate.data + b, up.data + b, e - b);
      else if (kind == GluKind::SiluClamped) ref::swiglu_clamped(gate.data + b, up.data + b, e - b);
      else if (reference_) ref::swiglu(gate.data + b, up.data + b, e - b);
      else kernels::swiglu(gate.data + b, up.data + b, gate.data + b, e - b);
    });
  }
  void scale(Tensor x, float s) override {
    elementwise(x.size(), [&](int64_t b, int64_t e) { ref::scale(x.data + b, s, e - b); });
  }
  void softcap(Tensor x, float cap) override {
    elementwise(x.size(), [&](int64_t b, int64_t e) { ref::softcap(x.data + b, cap, e - b); });
  }

  void rope(const StepView& step, Tensor q, int64_t num_q_heads, Tensor k, int64_t num_k_heads, int64_t head_dim,
            const RopeTable& rope) override {
    tokens(step.num_tokens(), q.cols + k.cols, [&](int64_t t) {
      float* qt = q.data + t * q.cols;
      float* kt = k.data + t * k.cols;
      if (reference_) {
        ref::rope(qt, num_q_heads, kt, num_k_heads, head_dim, step.positions[t], rope.freqs);
      } else {
        kernels::rope(qt, num_q_heads, kt, num_k_heads, head_dim, step.positions[t], rope.freqs);
      }
    });
  }

  void write_kv(const StepView& step, KvCache& kv, int64_t layer, const Tensor& k, const Tensor& v) override {
    const int64_t hd = kv.head_dim(layer), heads = kv.num_kv_heads();
    const int64_t head_stride = kv.head_stride(layer);
    const bool half = kv.type() == KvType::F16, with_v = !kv.v_in_k();  // no V rows: V lies in K
    void* kd = kv.k_data(layer);
    void* vd = kv.v_data(layer);
    // Slot s = block * block_size + slot lies at (block * block_size + slot) * head_dim of head 0.
    tokens(step.num_tokens(), 2 * k.cols, [&](int64_t t) {
      const int64_t slot = step.slots[t];
      for (int64_t h = 0; h < heads; ++h) {
        const size_t at = static_cast<size_t>(h * head_stride + slot * hd);
        const float* ks = k.data + t * k.cols + h * hd;
        if (half) {
          to_half(ks, static_cast<uint16_t*>(kd) + at, hd);
        } else {
          std::copy_n(ks, hd, static_cast<float*>(kd) + at);
        }
        if (!with_v) continue;
        const float* vs = v.data + t * v.cols + h * hd;
        if (half) {
          to_half(vs, static_cast<uint16_t*>(vd) + at, hd);
        } else {
          std::copy_n(vs, hd, static_cast<float*>(vd) + at);
        }
      }
    });
  }

  void attention(const StepView& step, const KvCache& kv, int64_t layer, const Tensor& q, Tensor out,
                 const AttentionParams& p) override {
    const StepInput& in = *step.host;
    AttentionCall c;
    c.q_stride = q.cols;
    c.out_stride = out.cols;
    c.num_heads = p.num_heads;
    c.num_kv_heads = p.num_kv_heads;
    c.head_dim = p.head_dim;
    c.v_dim = p.v_dim();
    if (c.v_dim > c.head_dim || (c.v_dim != c.head_dim && !kv.v_in_k()))
      fail("attention: V of {} values per head over K rows of {} needs a cache whose V lies in K", c.v_dim,
           c.head_dim);
    c.scale = p.scale;
    c.window = p.window;
    c.softcap = p.softcap;
    c.sinks = p.sinks != nullptr ? p.sinks->data() : nullptr;
    // The fast kernels take neither soft-capped scores nor sinks: those run the reference.
    const bool fast = !reference_ && c.softcap == 0 && c.sinks == nullptr;
    c.kv.block_size = kv.block_size();
    c.kv.block_stride = kv.block_size() * kv.head_dim(layer);
    c.kv.head_stride = kv.head_stride(layer);
    c.kv.slot_stride = kv.head_dim(layer);
    if (kv.type() == KvType::F16) {
      c.kv.k16 = static_cast<const uint16_t*>(kv.k_data(layer));
      c.kv.v16 = static_cast<const uint16_t*>(kv.v_data(layer));
    } else {
      c.kv.k = static_cast<const float*>(kv.k_data(layer));
      c.kv.v = static_cast<const float*>(kv.v_data(layer));
    }
    for (int64_t s = 0; s < in.num_sequences(); ++s) {
      const int64_t t0 = in.seq_begin[s];
      c.T = in.seq_begin[s + 1] - t0;
      c.start_pos = in.positions[t0];
      c.q = q.data + t0 * q.cols;
      c.out = out.data + t0 * out.cols;
      c.kv.block_table = in.block_tables.data() + in.table_begin[s];
      if (fast) kernels::attention(c);
      else ref::attention(c);
    }
  }

  void gather_logit_rows(const StepView& step, const Tensor& x, Tensor out) override {
    for (int64_t r = 0; r < out.rows; ++r) std::copy_n(x.data + step.logit_rows[r] * x.cols, x.cols, out.data + r * out.cols);
  }

  // Routing per row, then each expert's rows gathered and run through its MLP as one call (the
  // kernels compute every row alike whatever the call holds), then each row's experts summed in
  // expert order.
  bool supports_gated_delta() const override { return true; }
  void sigmoid_mul(Tensor x, const Tensor& gate) override { cpu::sigmoid_mul(x, gate); }
  void gated_delta(const StepView& step, KvCache& kv, const GatedDeltaParams& p, Tensor qkv, const Tensor& a,
                   const Tensor& b, Tensor out) override {
    cpu::gated_delta(*step.host, kv, p, qkv, a, b, out, !reference_ && threads() > 1);
  }

  void moe(const Tensor& x, const Tensor& router_logits, std::span<const MoeExpert> experts, const MoeParams& p,
           Tensor out) override {
    const int64_t T = x.rows, H = x.cols, E = static_cast<int64_t>(experts.size()), k = p.routing.top_k;
    if (router_logits.rows != T || router_logits.cols != E || k < 1 || k > E)
      fail("moe: {} router logits of {} experts for {} rows, top {}", router_logits.rows, router_logits.cols, T, k);
    thread_local std::vector<int32_t> ids;
    thread_local std::vector<float> weights, gathered, g, u, d, results;
    ids.resize(T * k);
    weights.resize(T * k);
    for (int64_t t = 0; t < T; ++t)
      route_experts(router_logits.data + t * E, E, p.routing, &ids[t * k], &weights[t * k]);
    results.assign(static_cast<size_t>(T * k * H), 0.0f);  // [row][its i-th expert][hidden]
    std::vector<int64_t> slots;                            // (row * k + i) of the expert's rows
    for (int64_t e = 0; e < E; ++e) {
      slots.clear();
      for (int64_t i = 0; i < T * k; ++i)
        if (ids[i] == e) slots.push_back(i);
      if (slots.empty()) continue;
      const int64_t n = static_cast<int64_t>(slots.size()), I = experts[e].gate->rows;
      gathered.resize(n * H);
      g.resize(n * I);
      u.resize(n * I);
      d.resize(n * H);
      for (int64_t r = 0; r < n; ++r) std::copy_n(x.data + (slots[r] / k) * H, H, gathered.data() + r * H);
      const Tensor xs{gathered.data(), n, H}, gs{g.data(), n, I}, us{u.data(), n, I}, ds{d.data(), n, H};
      const Weight* gate_up[] = {experts[e].gate, experts[e].up};
      const Tensor gate_up_y[] = {gs, us};
      linear_many(gate_up, xs, gate_up_y);
      if (experts[e].gate_bias) add_bias(gs, *experts[e].gate_bias);
      if (experts[e].up_bias) add_bias(us, *experts[e].up_bias);
      glu(p.activation, gs, us);
      linear(*experts[e].down, gs, ds);
      if (experts[e].down_bias) add_bias(ds, *experts[e].down_bias);
      for (int64_t r = 0; r < n; ++r) std::copy_n(d.data() + r * H, H, results.data() + slots[r] * H);
    }
    for (int64_t t = 0; t < T; ++t) {
      float* o = out.data + t * out.cols;
      std::fill(o, o + H, 0.0f);
      for (int64_t i = 0; i < k; ++i) {
        const float w = weights[t * k + i];
        const float* r = results.data() + (t * k + i) * H;
        for (int64_t h = 0; h < H; ++h) o[h] += w * r[h];
      }
    }
  }

 private:
  static int threads() { return default_threads(); }

  std::unique_ptr<CpuWeight> make_weight(const TensorView& t) const {
    auto w = std::make_unique<CpuWeight>();
    w->view = t;
    w->dtype = t.dtype;
    w->rows = t.rows();
    w->cols = t.cols();
    w->name = t.name;
    return w;
  }

  void to_half(const float* x, uint16_t* out, int64_t n) const {
    if (reference_) {
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_fp16(x[i]);
    } else {
      kernels::to_f16(x, out, n);  // bit for bit f32_to_fp16
    }
  }

  // Elementwise work over count values, split over the pool in pieces of a multiple of 64 values when
  // it is large (prefill, verify); each value is computed the same way whatever the split.
  template <class Fn>
  void elementwise(int64_t count, Fn&& fn) const {
    constexpr int64_t kPiece = 8192;
    if (reference_ || count < 4 * kPiece || threads() <= 1) {
      fn(0, count);
      return;
    }
    default_thread_pool().parallel_for((count + kPiece - 1) / kPiece, 1, [&](int64_t p0, int64_t p1) {
      fn(p0 * kPiece, std::min(count, p1 * kPiece));
    });
  }

  // fn(t) for every token t; a long step's tokens (each `width` values of work) split over the pool.
  template <class Fn>
  void tokens(int64_t T, int64_t width, Fn&& fn) const {
    if (reference_ || T * width < (1 << 16) || threads() <= 1) {  // else dispatch costs more than it saves
      for (int64_t t = 0; t < T; ++t) fn(t);
      return;
    }
    default_thread_pool().parallel_for(T, 8, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) fn(t);
    });
  }

  bool reference_;
  bool batch_invariant_;
  bool pack_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) { return std::make_unique<CpuBackend>(options); }

const kernels::PackedMatrix* packed_matrix(const Weight& w) {
  const auto* c = dynamic_cast<const CpuWeight*>(&w);
  return c != nullptr ? c->packed.get() : nullptr;
}

}  // namespace ax::cpu
