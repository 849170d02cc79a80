#pragma once
// A model on disk, opened and validated: its config, its tensors (by Hugging Face names) and
// where its tokenizer lives. Two kinds: a Hugging Face folder (config.json + safetensors, single or
// sharded; of a multimodal checkpoint, the text model) and a GGUF file. Tensor bytes stay in the mmapped files, except the copies an
// architecture makes at open of tensors its checkpoints store in a layout of their own (gpt-oss's
// transposed experts: Architecture::adapt_hf), which the source owns.
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "format/tensor.h"
#include "model/config.h"

namespace ax {

class GgufFile;
class Tokenizer;

class ModelSource {
 public:
  virtual ~ModelSource() = default;

  const std::string& path() const { return path_; }
  const ModelConfig& config() const { return config_; }

  // Tensors by Hugging Face name ("model.layers.0.self_attn.q_proj.weight"); GGUF names
  // ("blk.0.attn_q.weight") are mapped on open. Shapes are outermost first.
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;
  // The tensor, checked against the expected shape; throws naming the file and tensor.
  const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const;

  virtual std::string format() const = 0;  // "gguf" or "safetensors"
  // The GGUF file for GGUF models (tokenizer and chat template live in its metadata), else null.
  virtual const GgufFile* gguf() const { return nullptr; }
  // The folder for Hugging Face models (tokenizer.json, tokenizer_config.json), else empty.
  virtual std::string hf_dir() const { return {}; }
  // Where a tensor lives, for error messages: the file, and for GGUF the on-disk tensor name.
  virtual std::string origin(const std::string& name) const { return path_; }
  // What opening left out, for `inspect`; empty when nothing was (a multimodal checkpoint: its text
  // model loaded, the vision tower's tensors ignored).
  const std::string& note() const { return note_; }

  // For Architecture::adapt_hf, at open: adds (or replaces) a tensor whose bytes the source owns
  // (row_bytes(dtype, shape.back()) per row; checked), and removes one.
  const TensorView& add_owned(const std::string& name, DType dtype, std::vector<int64_t> shape,
                              std::vector<uint8_t> bytes);
  void remove(const std::string& name);

 protected:
  std::string path_;
  std::string note_;
  ModelConfig config_;
  std::map<std::string, TensorView> tensors_;
  std::deque<std::vector<uint8_t>> owned_;  // the bytes of add_owned's tensors (a deque: they never move)
};

// Opens a .gguf file or a Hugging Face folder; throws ax::Error with a one-line reason.
std::unique_ptr<ModelSource> open_model(const std::string& path);

// The model's tokenizer: from GGUF metadata, or tokenizer.json/tokenizer_config.json in the HF folder.
std::unique_ptr<Tokenizer> load_tokenizer(const ModelSource& source);

// The same, or null when the model carries no tokenizer at all (a GGUF without tokenizer.ggml.model,
// a folder without tokenizer.json): such a model still runs on token ids. A tokenizer that is
// present but broken still throws.
std::unique_ptr<Tokenizer> load_tokenizer_if_present(const ModelSource& source);

}  // namespace ax
