#pragma once
// The architecture registry: one entry per architecture file (model/arch_*.cpp), each owning what
// is particular to it: the config fields it reads beyond the common ones (from a Hugging Face
// config.json or GGUF metadata), llama.cpp's tensor names for it, and its forward pass.
//
// Common config fields are read once for every architecture (model/hf_config.cpp,
// model/gguf_config.cpp); an architecture's hooks then check and complete the ModelConfig.
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "format/tensor.h"
#include "model/config.h"
#include "model/hf_fields.h"

namespace ax {

class Backend;
class GgufFile;
class GgufWriter;
class Model;
class ModelSource;

// A llama.cpp per-layer tensor stem and the Hugging Face module path it stands for under
// model.layers.N (e.g. {"attn_q", "self_attn.q_proj"}). A stem that carries its suffix (".weight",
// ".bias", ".scale") names a whole tensor whose HF name has no suffix of its own
// ({"layer_output_scale.weight", "layer_scalar"}).
struct TensorNamePair {
  const char* gguf;
  const char* hf;
};

struct Architecture {
  std::vector<std::string> hf_model_types;  // config.json model_type values (the first is the name)
  std::vector<std::string> gguf_archs;      // GGUF general.architecture values
  // Completes m after the common fields (read by the caller) from config.json fields c; throws
  // naming the field that is wrong or not supported.
  void (*from_hf)(const HfFields& c, ModelConfig& m) = nullptr;
  // The same from GGUF metadata (keys under "<arch>.").
  void (*from_gguf)(const GgufFile& f, ModelConfig& m) = nullptr;
  std::span<const TensorNamePair> gguf_layer_names;  // per-layer stems beyond the common ones
  std::unique_ptr<Model> (*make)(const ModelSource& source, Backend& backend) = nullptr;
  // Writes the "<arch>." keys beyond the common ones (model/gguf_export.h), as llama.cpp's
  // converter does for this architecture; null when there are none.
  void (*to_gguf)(const ModelConfig& c, GgufWriter& w) = nullptr;
  // Null for most: converts, when a Hugging Face folder is opened, tensors its checkpoints store in
  // a layout of their own into the engine's (copies the source owns, ModelSource::add_owned), so
  // that HF and GGUF files reach `make` with the same names and shapes (gpt-oss's experts).
  void (*adapt_hf)(ModelSource& source) = nullptr;
  // Null for most: the same for a GGUF file, whose converter stored some tensors in a layout of its
  // own (the hybrids' -exp(A_log), squeezed conv kernels, fused query and gate); runs after the
  // GGUF names are mapped to HF ones.
  void (*adapt_gguf)(ModelSource& source) = nullptr;
  // Null for most: writes the HF-named tensor `name` (one of `all`) as llama.cpp's converter does
  // for this architecture, where that differs from the common rules of add_hf_tensors
  // (model/gguf_export.h), which asks this first; returns false for a tensor it leaves to them.
  bool (*add_gguf_tensor)(GgufWriter& w, const ModelConfig& c, const std::string& name, const TensorView& t,
                          const std::map<std::string, TensorView>& all) = nullptr;
};

// Every architecture the engine runs.
std::span<const Architecture* const> architectures();
// The architecture of a config.json model_type / GGUF general.architecture / a loaded config;
// throws naming `where` and listing the supported ones when there is none.
const Architecture& architecture_for_hf(const std::string& model_type, const std::string& where);
const Architecture& architecture_for_gguf(const std::string& gguf_arch, const std::string& where);
const Architecture& architecture_of(const ModelConfig& c);

// GGUF tensor names of an architecture: "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight"
// (common stems plus the architecture's own); names with no HF counterpart come back unchanged.
std::string gguf_to_hf_name(const Architecture& a, const std::string& gguf_name);
std::string hf_to_gguf_name(const Architecture& a, const std::string& hf_name);

}  // namespace ax
