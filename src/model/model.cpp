#include "model/model.h"

#include "model/architectures.h"
#include "util/error.h"

namespace ax {

std::unique_ptr<Model> load_model(const ModelSource& source, Backend& backend) {
  switch (source.config().arch) {
    case Arch::Llama:
    case Arch::Mistral:
    case Arch::Qwen2:
    case Arch::Qwen3:
      return make_llama_model(source, backend);
  }
  fail("{}: architecture '{}' has no forward pass", source.path(), source.config().arch_name);
}

}  // namespace ax
