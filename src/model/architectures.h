#pragma once
// One factory per architecture file; load_model (model.cpp) picks by config().arch.
#include <memory>

#include "model/model.h"

namespace ax {

// Llama, Mistral, Qwen2 and Qwen3: the pre-norm decoder with RoPE attention and a SwiGLU MLP
// (llama.cpp).
std::unique_ptr<Model> make_llama_model(const ModelSource& source, Backend& backend);

}  // namespace ax
