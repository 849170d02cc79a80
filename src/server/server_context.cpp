#include "server/server_context.h"

#include "backend/backend.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/model_source.h"
#include "server/openai_response.h"
#include "server/token_mask.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {

ServingContext::ServingContext() : created(unix_time_now()) {}
ServingContext::~ServingContext() = default;

std::shared_ptr<const TokenTrie> ServingContext::token_trie() {
  std::call_once(trie_once_, [&] { trie_ = TokenTrie::from_tokenizer(*tokenizer); });
  return trie_;
}

}  // namespace ax::server
