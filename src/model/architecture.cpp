#include "model/architecture.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "util/error.h"

namespace ax {

// Every architecture file exports its entries (one line each here).
extern const Architecture kLlamaArch, kMistralArch, kQwen2Arch, kQwen3Arch, kQwen3MoeArch, kPhi3Arch, kGemma2Arch,
    kGemma3Arch, kGemma4Arch, kGlm4MoeArch, kGptOssArch, kDeepseekV3Arch,
    kGlm4MoeLiteArch, kQwen3NextArch, kQwen35Arch, kQwen35MoeArch;

namespace {

const Architecture* const kAll[] = {&kLlamaArch, &kMistralArch,  &kQwen2Arch,  &kQwen3Arch,
                                    &kQwen3MoeArch, &kPhi3Arch, &kGemma2Arch, &kGemma3Arch, &kGemma4Arch,
                                    &kGlm4MoeArch, &kGptOssArch, &kDeepseekV3Arch,
                                    &kGlm4MoeLiteArch, &kQwen3NextArch, &kQwen35Arch, &kQwen35MoeArch};

// Per-layer GGUF stems every architecture shares (llama.cpp's names) -> HF module paths under
// model.layers.N. A stem that carries its suffix (".bias") names the whole tensor: HF's name for
// it has no suffix of its own.
constexpr std::array<TensorNamePair, 18> kCommonLayerNames{{
    {"attn_norm", "input_layernorm"},
    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},
    {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
    {"ffn_gate", "mlp.gate_proj"},
    {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
    // mixtures of experts: the router, every expert in one 3-D tensor, the shared expert
    {"ffn_gate_inp", "mlp.gate"},
    {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
    {"ffn_gate_exps", "mlp.experts.gate_proj"},
    {"ffn_up_exps", "mlp.experts.up_proj"},
    {"ffn_down_exps", "mlp.experts.down_proj"},
    {"ffn_gate_shexp", "mlp.shared_experts.gate_proj"},
    {"ffn_up_shexp", "mlp.shared_experts.up_proj"},
    {"ffn_down_shexp", "mlp.shared_experts.down_proj"},
}};

bool names_whole_tensor(const TensorNamePair& p) {
  const std::string_view g = p.gguf;
  return g.ends_with(".weight") || g.ends_with(".bias") || g.ends_with(".scale");
}

// Model-level tensors beyond the embedding, final norm and output (llama.cpp's names, HF's names):
// per-layer embeddings (Gemma 3n, Gemma 4).
constexpr std::array<std::pair<const char*, const char*>, 3> kModelNames{{
    {"per_layer_token_embd.weight", "model.embed_tokens_per_layer.weight"},
    {"per_layer_model_proj.weight", "model.per_layer_model_projection.weight"},
    {"per_layer_proj_norm.weight", "model.per_layer_projection_norm.weight"},
}};

std::string supported(bool hf) {
  std::string s;
  std::vector<std::string> listed;  // several model types share a GGUF architecture (deepseek2)
  for (const Architecture* a : kAll)
    for (const std::string& n : hf ? a->hf_model_types : a->gguf_archs) {
      if (std::find(listed.begin(), listed.end(), n) != listed.end()) continue;
      listed.push_back(n);
      s += (s.empty() ? "" : ", ") + n;
    }
  return s;
}

// Calls fn(pair) for the architecture's own stems first (they may override a common one), then the
// common stems; stops when fn returns true.
template <class Fn>
void for_each_name(const Architecture& a, Fn&& fn) {
  for (const TensorNamePair& p : a.gguf_layer_names)
    if (fn(p)) return;
  for (const TensorNamePair& p : kCommonLayerNames)
    if (fn(p)) return;
}

}  // namespace

std::span<const Architecture* const> architectures() { return kAll; }

const Architecture& architecture_for_hf(const std::string& model_type, const std::string& where) {
  for (const Architecture* a : kAll)
    for (const std::string& n : a->hf_model_types)
      if (n == model_type) return *a;
  fail("{}: model_type '{}' is not supported (supported: {})", where, model_type, supported(true));
}

const Architecture& architecture_for_gguf(const std::string& gguf_arch, const std::string& where) {
  for (const Architecture* a : kAll)
    for (const std::string& n : a->gguf_archs)
      if (n == gguf_arch) return *a;
  fail("{}: general.architecture '{}' is not supported (supported: {})", where, gguf_arch, supported(false));
}

const Architecture& architecture_of(const ModelConfig& c) { return architecture_for_hf(c.arch_name, "model config"); }

std::string gguf_to_hf_name(const Architecture& a, const std::string& name) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  for (const auto& [gguf, hf] : kModelNames)
    if (name == gguf) return hf;
  // blk.<N>.<stem>.<weight|bias>
  if (name.rfind("blk.", 0) != 0) return name;
  const size_t dot1 = name.find('.', 4);
  if (dot1 == std::string::npos || dot1 == 4) return name;
  const std::string layer = name.substr(4, dot1 - 4);
  for (char c : layer)
    if (c < '0' || c > '9') return name;
  const size_t dot2 = name.rfind('.');
  if (dot2 <= dot1) return name;
  const std::string stem = name.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string rest = name.substr(dot1 + 1);  // stem and suffix
  const std::string suffix = name.substr(dot2);    // ".weight" / ".bias"
  std::string out = name;
  for_each_name(a, [&](const TensorNamePair& p) {
    if (names_whole_tensor(p) ? rest != p.gguf : stem != p.gguf) return false;
    out = "model.layers." + layer + "." + p.hf + (names_whole_tensor(p) ? "" : suffix);
    return true;
  });
  return out;
}

std::string hf_to_gguf_name(const Architecture& a, const std::string& name) {
  if (name == "model.embed_tokens.weight") return "token_embd.weight";
  if (name == "model.norm.weight") return "output_norm.weight";
  if (name == "lm_head.weight") return "output.weight";
  for (const auto& [gguf, hf] : kModelNames)
    if (name == hf) return gguf;
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return name;
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos) return name;
  const std::string layer = name.substr(prefix.size(), dot - prefix.size());
  if (layer.empty() || layer.find_first_not_of("0123456789") != std::string::npos) return name;
  // A name without a suffix (Gemma 4's layer_scalar) can only be a whole-tensor name.
  const size_t last = name.rfind('.');
  const std::string module = last > dot ? name.substr(dot + 1, last - dot - 1) : "";
  const std::string rest = name.substr(dot + 1);
  std::string out = name;
  // Whole-tensor names first (mlp.gate.e_score_correction_bias lives beside mlp.gate.weight).
  for (const bool whole : {true, false}) {
    if (!whole && module.empty()) break;
    bool found = false;
    for_each_name(a, [&](const TensorNamePair& p) {  // the first stem naming the module wins
      if (names_whole_tensor(p) != whole || (whole ? rest != p.hf : module != p.hf)) return false;
      out = "blk." + layer + "." + p.gguf + (whole ? "" : name.substr(last));
      return found = true;
    });
    if (found) break;
  }
  return out;
}

}  // namespace ax
