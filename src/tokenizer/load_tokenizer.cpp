#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax {

std::unique_ptr<Tokenizer> load_tokenizer(const ModelSource& source) {
  if (const GgufFile* g = source.gguf()) return load_tokenizer(*g);
  std::string dir = source.hf_dir();
  if (dir.empty()) fail("{}: the model has neither GGUF metadata nor a Hugging Face folder to read a tokenizer from", source.path());
  return load_tokenizer_hf(dir);
}

}  // namespace ax
