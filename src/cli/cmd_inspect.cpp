// `ax-engine inspect`: what a model file or folder holds — format, architecture and config,
// tensor counts and bytes per dtype, each tensor (--tensors), GGUF metadata (--metadata),
// tokenizer kind and chat template. Files the engine cannot run (an unsupported architecture,
// a vocabulary-only GGUF) are still described, with the reason they cannot be loaded.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include <fmt/ranges.h>

#include "cli/command.h"
#include "cli/model_arg.h"
#include "format/gguf.h"
#include "model/gguf_config.h"
#include "format/safetensors.h"
#include "model/architecture.h"
#include "model/model.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct InspectOptions {
  std::string model;
  bool tensors = false;
  bool metadata = false;
  bool json_out = false;
};

// Everything printed, gathered first so text and JSON output say the same thing.
struct Report {
  std::string path, format, arch;
  std::string load_error;  // why open_model() refused it (empty: loadable)
  std::string note;        // what open_model() left out (ModelSource::note)
  const ModelConfig* config = nullptr;
  std::vector<TensorView> tensors;  // file order (GGUF) or name order (safetensors)
  std::map<std::string, std::string> gguf_names;  // HF name -> GGUF name, for GGUF models
  std::string tokenizer_kind, tokenizer_error;
  int64_t tokenizer_vocab = 0;
  std::string chat_template;
  bool has_chat_template = false;
};

std::string human_bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", n / double(uint64_t{1} << 30));
  if (n >= (uint64_t{1} << 20)) return fmt::format("{:.2f} MiB", n / double(uint64_t{1} << 20));
  if (n >= 1024) return fmt::format("{:.1f} KiB", n / 1024.0);
  return fmt::format("{} B", n);
}

// One line for a GGUF metadata value; long arrays and strings are summarised.
std::string describe(const GgufValue& v) {
  switch (v.type) {
    case GgufType::STRING: {
      const std::string& s = v.as_string();
      std::string shown = s.substr(0, 60);
      for (auto& c : shown)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      return s.size() > 60 ? fmt::format("\"{}...\" ({} bytes)", shown, s.size()) : fmt::format("\"{}\"", shown);
    }
    case GgufType::ARRAY: {
      const GgufArray& a = v.as_array();
      std::vector<std::string> head;
      for (size_t i = 0; i < std::min<size_t>(a.items.size(), 4); ++i) head.push_back(describe(a.items[i]));
      return fmt::format("[{} x {}] [{}{}]", a.items.size(), gguf_type_name(a.elem_type), fmt::join(head, ", "),
                         a.items.size() > 4 ? ", ..." : "");
    }
    case GgufType::F32:
    case GgufType::F64: return fmt::format("{}", v.as_float());
    case GgufType::BOOL: return v.as_bool() ? "true" : "false";
    default:
      if (const auto* u = std::get_if<uint64_t>(&v.value)) return fmt::format("{}", *u);
      return fmt::format("{}", v.as_int());
  }
}

// The chat template from the files themselves, for when no tokenizer could be loaded.
std::string raw_chat_template(const GgufFile* g, const std::string& dir) {
  if (g) return g->get_string_or("tokenizer.chat_template", "");
  if (dir.empty()) return "";
  if (std::ifstream in(fs::path(dir) / "chat_template.jinja"); in) return std::string(std::istreambuf_iterator<char>(in), {});
  std::ifstream in(fs::path(dir) / "tokenizer_config.json");
  if (!in) return "";
  try {
    json j = json::parse(in);
    if (j.contains("chat_template") && j["chat_template"].is_string()) return j["chat_template"].get<std::string>();
  } catch (const json::exception&) {
  }
  return "";
}

void print_config(const ModelConfig& c) {
  std::printf("config:\n");
  std::printf("  vocab_size %lld, hidden_size %lld, intermediate_size %lld, layers %lld\n", (long long)c.vocab_size,
              (long long)c.hidden_size, (long long)c.intermediate_size, (long long)c.num_layers);
  std::printf("  heads %lld, kv_heads %lld, head_dim %lld, max_position_embeddings %lld, rms_norm_eps %g\n",
              (long long)c.num_heads, (long long)c.num_kv_heads, (long long)c.head_dim,
              (long long)c.max_position_embeddings, c.rms_norm_eps);
  const RopeConfig& r = c.rope;
  std::string rope = fmt::format("theta {}, {}, scaling {}", r.theta,
                                 r.style == RopeStyle::RotateHalf ? "rotate-half" : "adjacent pairs", r.scaling_type);
  if (r.scaling_type != "default") rope += fmt::format(" (factor {}", r.factor);
  if (r.scaling_type == "llama3")
    rope += fmt::format(", low {}, high {}, original {}", r.low_freq_factor, r.high_freq_factor, r.original_max_position);
  if (r.scaling_type == "yarn") rope += fmt::format(", original {}", r.original_max_position);
  if (r.scaling_type != "default") rope += ")";
  if (r.rotary_dim) rope += fmt::format(", rotary_dim {}", r.rotary_dim);
  std::printf("  rope: %s\n", rope.c_str());
  bool any_window = false;
  const std::vector<int64_t> windows = c.layer_windows();
  for (auto w : windows) any_window |= w > 0;
  std::printf("  sliding window: %s\n", any_window ? fmt::format("[{}]", fmt::join(windows, ", ")).c_str() : "none");
  std::printf("  tie_word_embeddings %s, qkv_bias %s, qk_norm %s\n", c.tie_word_embeddings ? "yes" : "no",
              c.qkv_bias ? "yes" : "no", c.qk_norm ? "yes" : "no");
  std::printf("  bos %lld, eos [%s], pad %lld\n", (long long)c.bos_token_id, fmt::format("{}", fmt::join(c.eos_token_ids, ", ")).c_str(),
              (long long)c.pad_token_id);
  const MlaConfig& a = c.mla;
  if (a.enabled())
    std::printf("  latent attention: q_lora_rank %lld, kv_lora_rank %lld, heads of %lld + %lld (RoPE) query/key values "
                "and %lld value values\n", (long long)a.q_lora_rank, (long long)a.kv_lora_rank,
                (long long)a.qk_nope_head_dim, (long long)a.qk_rope_head_dim, (long long)a.v_head_dim);
  const KvShape kv = kv_shape_for(c);
  std::printf("  kv cache per token: %lld values, %lld bytes at f16 (%s)\n",
              (long long)(kv.values_per_token()),
              (long long)KvCache::bytes_per_block(kv, 1, KvType::F16),
              a.enabled() ? "one latent row [c_kv | k_rope] per layer" : "K and V of every kv head per layer");
}

json config_json(const ModelConfig& c) {
  json j = {{"arch", c.arch_name}, {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size}, {"num_layers", c.num_layers}, {"num_heads", c.num_heads},
          {"num_kv_heads", c.num_kv_heads}, {"head_dim", c.head_dim},
          {"max_position_embeddings", c.max_position_embeddings}, {"rms_norm_eps", c.rms_norm_eps},
          {"rope", {{"theta", c.rope.theta}, {"style", c.rope.style == RopeStyle::RotateHalf ? "rotate_half" : "adjacent_pairs"},
                    {"scaling_type", c.rope.scaling_type}, {"factor", c.rope.factor},
                    {"original_max_position", c.rope.original_max_position}, {"rotary_dim", c.rope.rotary_dim}}},
          {"layer_window", c.layer_windows()}, {"tie_word_embeddings", c.tie_word_embeddings},
          {"qkv_bias", c.qkv_bias}, {"qk_norm", c.qk_norm}, {"bos_token_id", c.bos_token_id},
          {"eos_token_ids", c.eos_token_ids}, {"pad_token_id", c.pad_token_id}};
  const KvShape kv = kv_shape_for(c);
  j["kv_values_per_token"] = kv.values_per_token();
  if (c.mla.enabled())
    j["mla"] = {{"q_lora_rank", c.mla.q_lora_rank}, {"kv_lora_rank", c.mla.kv_lora_rank},
                {"qk_nope_head_dim", c.mla.qk_nope_head_dim}, {"qk_rope_head_dim", c.mla.qk_rope_head_dim},
                {"v_head_dim", c.mla.v_head_dim}};
  return j;
}

int run_inspect(const InspectOptions& o) {
  if (!fs::exists(o.model)) fail("--model: '{}' does not exist", o.model);
  Report r;
  r.path = o.model;
  std::unique_ptr<ModelSource> source;
  std::unique_ptr<GgufFile> gguf_only;              // when open_model() refused a GGUF
  std::unique_ptr<SafetensorsModel> weights_only;   // when open_model() refused an HF folder
  try {
    source = open_model(o.model);
  } catch (const Error& e) {
    r.load_error = e.what();
  }
  const bool is_dir = fs::is_directory(o.model);
  const GgufFile* g = nullptr;
  std::string hf_dir;
  if (source) {
    r.format = source->format();
    r.config = &source->config();
    r.arch = r.config->arch_name;
    r.note = source->note();
    g = source->gguf();
    hf_dir = source->hf_dir();
    if (!g) {
      for (const auto& [name, t] : source->tensors()) r.tensors.push_back(t);
    }
  } else if (is_dir) {
    r.format = "safetensors";
    hf_dir = o.model;
    weights_only = SafetensorsModel::open(o.model);  // throws if even the weights are unreadable
    for (const auto& [name, t] : weights_only->tensors()) r.tensors.push_back(t);
    std::ifstream in(fs::path(o.model) / "config.json");
    try {
      r.arch = json::parse(in).value("model_type", "");
    } catch (const json::exception&) {
    }
  } else {
    r.format = "gguf";
    gguf_only = GgufFile::open(o.model);
    g = gguf_only.get();
    r.arch = g->get_string_or("general.architecture", "");
  }
  if (g) {
    // GGUF: list tensors in file order under their HF names (as the engine sees them), where the
    // architecture is one the engine knows.
    const Architecture* arch = nullptr;
    for (const Architecture* a : architectures())
      for (const std::string& n : a->gguf_archs)
        if (n == r.arch) arch = a;
    for (const TensorView& t : g->tensors()) {
      TensorView v = t;
      v.name = arch ? gguf_to_hf_name(*arch, t.name) : t.name;
      r.gguf_names[v.name] = t.name;
      r.tensors.push_back(v);
    }
  }

  // Tokenizer and chat template.
  try {
    std::unique_ptr<Tokenizer> tok = source ? load_tokenizer(*source) : g ? load_tokenizer(*g) : load_tokenizer_hf(hf_dir);
    r.tokenizer_kind = tok->kind();
    r.tokenizer_vocab = tok->vocab_size();
    r.chat_template = tok->chat_template();
  } catch (const Error& e) {
    r.tokenizer_error = e.what();
    r.chat_template = raw_chat_template(g, hf_dir);
  }
  r.has_chat_template = !r.chat_template.empty();

  // Per-dtype totals.
  struct Totals {
    int64_t count = 0;
    uint64_t bytes = 0;
    int64_t params = 0;
  };
  std::map<std::string, Totals> by_dtype;
  Totals all;
  for (const auto& t : r.tensors) {
    auto& d = by_dtype[std::string(dtype_name(t.dtype))];
    for (Totals* x : {&d, &all}) {
      x->count += 1;
      x->bytes += t.nbytes;
      x->params += t.numel();
    }
  }

  if (o.json_out) {
    json j = {{"path", r.path}, {"format", r.format}, {"architecture", r.arch}, {"loadable", r.load_error.empty()}};
    if (!r.load_error.empty()) j["load_error"] = r.load_error;
    if (!r.note.empty()) j["note"] = r.note;
    if (r.config) j["config"] = config_json(*r.config);
    if (g) j["gguf"] = {{"version", g->version()}, {"alignment", g->alignment()}, {"metadata_keys", g->metadata().size()}};
    j["tensor_count"] = all.count;
    j["tensor_bytes"] = all.bytes;
    j["parameters"] = all.params;
    for (const auto& [name, d] : by_dtype) j["dtypes"][name] = {{"tensors", d.count}, {"bytes", d.bytes}};
    if (o.tensors) {
      j["tensors"] = json::array();
      for (const auto& t : r.tensors) {
        json e = {{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.nbytes}};
        if (auto it = r.gguf_names.find(t.name); it != r.gguf_names.end()) e["gguf_name"] = it->second;
        j["tensors"].push_back(e);
      }
    }
    if (o.metadata && g)
      for (const auto& [k, v] : g->metadata()) j["metadata"][k] = describe(v);
    j["tokenizer"] = r.tokenizer_error.empty() ? json{{"kind", r.tokenizer_kind}, {"vocab_size", r.tokenizer_vocab}}
                                               : json{{"error", r.tokenizer_error}};
    j["chat_template"] = r.has_chat_template;
    std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }

  std::printf("model:        %s\n", r.path.c_str());
  if (g) {
    std::printf("format:       gguf v%u, alignment %zu, %zu metadata keys\n", g->version(), g->alignment(), g->metadata().size());
  } else {
    if (!weights_only) weights_only = SafetensorsModel::open(hf_dir);  // for the shard count
    const size_t files = weights_only->files().size();
    std::printf("format:       safetensors%s\n", files > 1 ? fmt::format(" ({} shards)", files).c_str() : "");
  }
  std::printf("architecture: %s\n", r.arch.empty() ? "(none)" : r.arch.c_str());
  if (!r.load_error.empty()) std::printf("not loadable: %s\n", r.load_error.c_str());
  if (!r.note.empty()) std::printf("note:         %s\n", r.note.c_str());
  if (r.config) print_config(*r.config);
  std::printf("tensors:      %lld, %s, %lld parameters\n", (long long)all.count, human_bytes(all.bytes).c_str(),
              (long long)all.params);
  for (const auto& [name, d] : by_dtype)
    std::printf("  %-7s %6lld tensors  %12s\n", name.c_str(), (long long)d.count, human_bytes(d.bytes).c_str());
  if (r.tokenizer_error.empty())
    std::printf("tokenizer:    %s, %lld tokens\n", r.tokenizer_kind.c_str(), (long long)r.tokenizer_vocab);
  else
    std::printf("tokenizer:    not loadable: %s\n", r.tokenizer_error.c_str());
  std::printf("chat template: %s\n", r.has_chat_template ? fmt::format("present ({} bytes)", r.chat_template.size()).c_str() : "none");
  if (o.tensors) {
    std::vector<std::string> names;
    int width = 6;
    for (const auto& t : r.tensors) {
      std::string name = t.name;
      if (auto it = r.gguf_names.find(t.name); it != r.gguf_names.end() && it->second != t.name) name += " (" + it->second + ")";
      width = std::max(width, static_cast<int>(name.size()));
      names.push_back(std::move(name));
    }
    std::printf("\n%-*s %-7s %-20s %s\n", width, "tensor", "dtype", "shape", "bytes");
    for (size_t i = 0; i < r.tensors.size(); ++i) {
      const TensorView& t = r.tensors[i];
      std::printf("%-*s %-7s %-20s %zu\n", width, names[i].c_str(), std::string(dtype_name(t.dtype)).c_str(),
                  fmt::format("[{}]", fmt::join(t.shape, ", ")).c_str(), t.nbytes);
    }
  }
  if (o.metadata && g) {
    std::printf("\nmetadata:\n");
    for (const auto& [k, v] : g->metadata()) std::printf("  %-44s %-8s %s\n", k.c_str(), gguf_type_name(v.type), describe(v).c_str());
  }
  return 0;
}

RegisterCommand reg("inspect", "Show a model's format, architecture, config, tensors, tokenizer and chat template",
                    [](CLI::App& sub) -> CommandRun {
                      auto o = std::make_shared<InspectOptions>();
                      o->model = default_model_path();
                      sub.add_option("--model,-m", o->model, "a .gguf file, a Hugging Face model folder or a pulled owner/name")
                          ->transform(pulled_model_names());
                      sub.add_flag("--tensors", o->tensors, "list every tensor (name, dtype, shape, bytes)");
                      sub.add_flag("--metadata", o->metadata, "list every GGUF metadata key");
                      sub.add_flag("--json", o->json_out, "print JSON instead of text");
                      return [o] { return run_inspect(*o); };
                    });

}  // namespace
}  // namespace ax::cli
