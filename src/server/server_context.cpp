#include "server/server_context.h"

#include "backend/backend.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/model_source.h"
#include "server/api_error.h"
#include "server/openai_response.h"
#include "server/token_mask.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {

ServingContext::ServingContext() : created(unix_time_now()) {}
ServingContext::~ServingContext() = default;

const Tokenizer& ServingContext::text_tokenizer() const {
  if (!tokenizer)
    throw ApiError(400,
                   "This model has no tokenizer (no tokenizer.json in its folder, no tokenizer.ggml.* in its GGUF): "
                   "text cannot be encoded or decoded; send token ids to POST /v1/generate as input_tokens.",
                   "invalid_request_error", {}, "tokenizer_missing");
  return *tokenizer;
}

std::shared_ptr<const TokenTrie> ServingContext::token_trie() {
  const Tokenizer& tok = text_tokenizer();
  std::call_once(trie_once_, [&] { trie_ = TokenTrie::from_tokenizer(tok); });
  return trie_;
}

}  // namespace ax::server
