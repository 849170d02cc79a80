#pragma once
// Embeddings from a decoder: a text's final-normed hidden states (Model::hidden_states) pooled into
// one L2-normalised vector, the way the model's files say. What /v1/embeddings and the Python
// package's Engine.embed return.
#include <cstdint>
#include <span>
#include <vector>

namespace ax {

class Model;
class ModelSource;

enum class EmbeddingPooling {
  Last,  // the last token's state: right for causal decoders, the default
  Mean,  // the mean over the tokens (sentence-transformers' mean pooling)
};

// GGUF: "<arch>.pooling_type" (llama.cpp's numbering: 1 mean, 3 last). Hugging Face folders:
// sentence-transformers' 1_Pooling/config.json. Anything else: Last.
EmbeddingPooling detect_embedding_pooling(const ModelSource& source);

// One input through the model on a KV cache of its own (never the engine's): [hidden_size]
// floats, pooled and L2-normalised. ids must be non-empty and inside the vocabulary.
std::vector<float> embed_tokens(Model& model, std::span<const int32_t> ids, EmbeddingPooling pooling);

}  // namespace ax
