// Our side of the llama.cpp cross-check: runs AX Engine on a GGUF over the given token ids (one
// prefill, logits at every position) and compares with the logits llama.cpp wrote for the same
// file and ids (scripts/peer/llama_logits.cpp). Prints one JSON object per file.
//
//   crosscheck_logits --model M.gguf --ids 1,2,3 --peer peer.f32 [--threads 2] [--backend cpu|cuda]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

#include "backend/backend.h"
#include "model/model.h"
#include "util/error.h"

namespace {

int64_t argmax(const float* v, int64_t n) { return std::max_element(v, v + n) - v; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Compare AX Engine's logits with llama.cpp's on the same GGUF and token ids"};
  std::string model_path, ids_text, peer_path;
  int threads = 2;
  bool reference = false;
  std::string backend_kind = "cpu";
  app.add_option("--model", model_path)->required();
  app.add_option("--ids", ids_text, "comma-separated token ids")->required();
  app.add_option("--peer", peer_path, "llama.cpp logits, raw float32 [T, vocab]")->required();
  app.add_option("--threads", threads);
  app.add_flag("--reference", reference, "run the scalar float32 reference ops instead of the fast kernels");
  app.add_option("--backend", backend_kind, "cpu or cuda");
  CLI11_PARSE(app, argc, argv);
  try {
    auto backend = ax::make_backend({.kind = backend_kind, .threads = threads, .reference = reference});
    std::vector<int32_t> ids;
    std::stringstream ss(ids_text);
    for (std::string t; std::getline(ss, t, ',');) ids.push_back(std::stoi(t));
    const int64_t T = static_cast<int64_t>(ids.size());

    auto source = ax::open_model(model_path);
    auto model = ax::load_model(*source, *backend);
    const auto& cfg = model->config();
    const int64_t V = cfg.vocab_size, block = 16;
    // One sequence: one recurrent-state slot for the hybrid models (unused by the others).
    ax::KvCache kv(*backend, model->kv_shape(), (T + block - 1) / block, block, ax::KvType::F32, /*state_slots=*/1);
    std::vector<int32_t> table((T + block - 1) / block);
    std::iota(table.begin(), table.end(), 0);
    ax::StepInput in(block);
    in.add_sequence(ids, 0, table, /*state_slot=*/0);
    for (int64_t i = 0; i < T; ++i) in.add_logit_row(i);
    const std::span<const float> ours = backend->to_host(model->forward(in, kv));

    std::vector<float> peer(static_cast<size_t>(T * V));
    std::ifstream f(peer_path, std::ios::binary);
    if (!f.read(reinterpret_cast<char*>(peer.data()), static_cast<std::streamsize>(peer.size() * 4)))
      ax::fail("{}: expected {} x {} float32 logits", peer_path, T, V);

    // Per position: max |diff| relative to the row's logit scale, cosine similarity, argmax.
    double worst_rel = 0, worst_abs = 0, min_cos = 1;
    int64_t worst_pos = 0, worst_vocab = 0;
    int64_t argmax_same = 0, top5_overlap_sum = 0;
    for (int64_t t = 0; t < T; ++t) {
      const float* a = ours.data() + t * V;
      const float* b = peer.data() + t * V;
      double dot = 0, na = 0, nb = 0, mx = 0, scale = 0;
      for (int64_t v = 0; v < V; ++v) {
        dot += double(a[v]) * b[v];
        na += double(a[v]) * a[v];
        nb += double(b[v]) * b[v];
        if (std::fabs(a[v] - b[v]) > worst_abs) {
          worst_abs = std::fabs(a[v] - b[v]);
          worst_pos = t;
          worst_vocab = v;
        }
        mx = std::max(mx, double(std::fabs(a[v] - b[v])));
        scale = std::max(scale, double(std::fabs(b[v])));
      }
      worst_abs = std::max(worst_abs, mx);
      worst_rel = std::max(worst_rel, mx / std::max(1.0, scale));
      min_cos = std::min(min_cos, dot / std::sqrt(na * nb));
      if (argmax(a, V) == argmax(b, V)) ++argmax_same;
      // Top-5 overlap: how many of llama.cpp's five best tokens are among ours.
      std::vector<int64_t> ia(V), ib(V);
      std::iota(ia.begin(), ia.end(), 0);
      std::iota(ib.begin(), ib.end(), 0);
      auto by = [](const float* x) { return [x](int64_t i, int64_t j) { return x[i] > x[j]; }; };
      std::partial_sort(ia.begin(), ia.begin() + 5, ia.end(), by(a));
      std::partial_sort(ib.begin(), ib.begin() + 5, ib.end(), by(b));
      for (int k = 0; k < 5; ++k)
        top5_overlap_sum += std::count(ia.begin(), ia.begin() + 5, ib[k]);
    }
    std::printf(
        "{\"model\": \"%s\", \"positions\": %lld, \"max_abs_diff\": %.6g, \"max_rel_diff\": %.6g, "
        "\"min_cosine\": %.8f, \"argmax_agree\": %lld, \"top5_overlap\": %.3f, \"worst_at\": [%lld, %lld]}\n",
        model_path.c_str(), static_cast<long long>(T), worst_abs, worst_rel, min_cos,
        static_cast<long long>(argmax_same), double(top5_overlap_sum) / (5.0 * T),
        static_cast<long long>(worst_pos), static_cast<long long>(worst_vocab));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
