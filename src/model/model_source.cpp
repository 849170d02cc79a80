#include "model/model_source.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/architecture.h"
#include "model/gguf_config.h"
#include "model/hf_config.h"
#include "util/error.h"

namespace ax {
namespace fs = std::filesystem;

const TensorView* ModelSource::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& ModelSource::get(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorView* t = find(name);
  if (!t) fail("{}: tensor '{}' is missing", path_, name);
  if (t->shape != shape)
    fail("{}: tensor '{}' has shape [{}], expected [{}]", origin(name), name, fmt::join(t->shape, ", "),
         fmt::join(shape, ", "));
  if (!dtype_info(t->dtype).supported)
    fail("{}: tensor '{}' has dtype {}, which is not a supported weight type", origin(name), name,
         dtype_name(t->dtype));
  return *t;
}

const TensorView& ModelSource::add_owned(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                         std::vector<uint8_t> bytes) {
  TensorView t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (t.shape.empty() || t.cols() % dtype_info(dtype).block_size != 0 ||
      bytes.size() != row_bytes(dtype, t.cols()) * static_cast<size_t>(t.rows()))
    fail("{}: converted tensor '{}' has {} bytes for shape [{}] of {}", path_, name, bytes.size(), fmt::join(t.shape, ", "),
         dtype_name(dtype));
  owned_.push_back(std::move(bytes));
  t.data = owned_.back().data();
  t.nbytes = owned_.back().size();
  return tensors_[name] = std::move(t);
}

void ModelSource::remove(const std::string& name) { tensors_.erase(name); }

namespace {

// The text model's name of a multimodal checkpoint's tensor: model.language_model.X -> model.X
// (transformers from 4.52), language_model.model.X -> model.X and language_model.lm_head.X ->
// lm_head.X (older Gemma 3 checkpoints); lm_head.X stays. Empty for the rest (vision tower,
// projector).
std::string text_model_name(const std::string& name) {
  for (auto [nested, flat] : {std::pair{"model.language_model.", "model."}, {"language_model.model.", "model."},
                              {"language_model.lm_head.", "lm_head."}, {"lm_head.", "lm_head."}})
    if (name.starts_with(nested)) return flat + name.substr(std::strlen(nested));
  return {};
}

bool is_multimodal(const std::map<std::string, TensorView>& tensors) {
  return std::any_of(tensors.begin(), tensors.end(), [](const auto& t) {
    return t.first.starts_with("model.language_model.") || t.first.starts_with("language_model.");
  });
}

// A Hugging Face folder: config.json (+ generation_config.json) and safetensors weights.
class HfModelSource : public ModelSource {
 public:
  explicit HfModelSource(const std::string& dir) {
    path_ = dir;
    config_ = load_hf_config(dir);
    weights_ = SafetensorsModel::open(dir);
    tensors_ = weights_->tensors();
    if (is_multimodal(tensors_)) take_text_model();
    if (const Architecture& arch = architecture_of(config_); arch.adapt_hf) arch.adapt_hf(*this);
  }
  std::string format() const override { return "safetensors"; }
  std::string hf_dir() const override { return path_; }
  std::string origin(const std::string& name) const override {
    auto it = file_name_.find(name);
    std::string f = weights_->file_of(it == file_name_.end() ? name : it->second);
    return f.empty() ? path_ : f;
  }

 private:
  // Keeps the text model's tensors under its own names; without an lm_head its output shares the
  // embeddings (Gemma 3's checkpoints store none).
  void take_text_model() {
    std::map<std::string, TensorView> text;
    int64_t ignored = 0;
    for (auto& [name, t] : tensors_) {
      const std::string flat = text_model_name(name);
      if (flat.empty()) {
        ++ignored;
        continue;
      }
      file_name_[flat] = name;
      t.name = flat;
      if (!text.emplace(flat, t).second) fail("{}: tensors '{}' and another both name '{}'", path_, name, flat);
    }
    tensors_ = std::move(text);
    if (tensors_.count("lm_head.weight") == 0) config_.tie_word_embeddings = true;
    note_ = fmt::format("multimodal checkpoint: text model loaded, {} other tensor{} (vision tower, projector) ignored",
                        ignored, ignored == 1 ? "" : "s");
  }

  std::unique_ptr<SafetensorsModel> weights_;
  std::map<std::string, std::string> file_name_;  // text model name -> name in the checkpoint
};

// A GGUF file: config from its metadata, tensors renamed to HF names (same bytes, same layout;
// llama-architecture Q/K rows stay in llama.cpp's order, see RopeStyle::AdjacentPairs).
class GgufModelSource : public ModelSource {
 public:
  explicit GgufModelSource(const std::string& path) {
    path_ = path;
    file_ = GgufFile::open(path);
    config_ = gguf_model_config(*file_);
    const Architecture& arch = architecture_of(config_);
    for (const TensorView& t : file_->tensors()) {
      TensorView v = t;
      v.name = gguf_to_hf_name(arch, t.name);
      if (!tensors_.emplace(v.name, v).second)
        fail("{}: tensors '{}' and another both map to '{}'", path, t.name, v.name);
      gguf_name_[v.name] = t.name;
    }
    if (arch.adapt_gguf) arch.adapt_gguf(*this);
  }
  std::string format() const override { return "gguf"; }
  const GgufFile* gguf() const override { return file_.get(); }
  std::string origin(const std::string& name) const override {
    auto it = gguf_name_.find(name);
    return it == gguf_name_.end() ? path_ : fmt::format("{} (GGUF tensor '{}')", path_, it->second);
  }

 private:
  std::unique_ptr<GgufFile> file_;
  std::map<std::string, std::string> gguf_name_;  // HF name -> GGUF name
};

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

std::unique_ptr<ModelSource> open_model(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail("{}: no such file or folder", path);
  if (fs::is_directory(st)) {
    if (!fs::exists(fs::path(path) / "config.json"))
      fail("{}: folder has no config.json (expected a Hugging Face model folder)", path);
    return std::make_unique<HfModelSource>(path);
  }
  if (fs::path(path).filename() == "config.json") return std::make_unique<HfModelSource>(fs::path(path).parent_path().string());
  if (fs::path(path).extension() == ".gguf" || has_gguf_magic(path)) return std::make_unique<GgufModelSource>(path);
  fail("{}: not a .gguf file or a Hugging Face model folder", path);
}

}  // namespace ax
