// load_tokenizer(ModelSource), in a file of its own: programs that never tokenize (benchmarks,
// GPU test binaries) link without the tokenizer and its Unicode tables.
#include <filesystem>

#include "format/gguf.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax {

std::unique_ptr<Tokenizer> load_tokenizer(const ModelSource& source) {
  if (const GgufFile* g = source.gguf()) return load_tokenizer(*g);
  std::string dir = source.hf_dir();
  if (dir.empty())
    fail("{}: the model has neither GGUF metadata nor a Hugging Face folder to read a tokenizer from", source.path());
  return load_tokenizer_hf(dir);
}

std::unique_ptr<Tokenizer> load_tokenizer_if_present(const ModelSource& source) {
  if (const GgufFile* g = source.gguf()) return g->find("tokenizer.ggml.model") ? load_tokenizer(*g) : nullptr;
  const std::string dir = source.hf_dir();
  if (dir.empty() || !std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json")) return nullptr;
  return load_tokenizer_hf(dir);
}

}  // namespace ax
