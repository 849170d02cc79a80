#pragma once
// Everything the routes share: the loaded model, its tokenizer, the engine, metrics, and the
// server's state (loading, ready, shutting down). One per server; routes get it by reference.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/embedding.h"
#include "server/live_requests.h"
#include "server/metrics.h"
#include "server/reasoning_parser.h"
#include "server/responses_store.h"
#include "server/server_options.h"
#include "server/template_caps.h"

namespace ax {
class Backend;
class ModelSource;
class Model;
class Tokenizer;
class Engine;
class ChatTemplate;
}  // namespace ax

namespace ax::server {

class TokenTrie;

struct ServingContext {
  ServingContext();
  ~ServingContext();

  ServerOptions options;
  std::string model_id;
  int64_t created = 0;  // unix time the server started

  std::atomic<bool> ready{false};          // the model is loaded and the engine runs
  std::atomic<bool> shutting_down{false};  // SIGINT/SIGTERM: no new requests
  std::atomic<bool> cancel_all{false};     // the shutdown grace ran out: cancel what is left
  std::atomic<int> in_flight{0};           // generation requests holding an InFlightSlot
  // A model file was rewritten or truncated in place after loading (model_watch.h): generation is
  // refused from then on; model_file_problem says why (under model_file_mu).
  std::atomic<bool> model_file_changed{false};
  std::mutex model_file_mu;
  std::string model_file_problem;

  std::unique_ptr<Backend> backend;  // declared before the model: destroyed after it
  std::unique_ptr<ModelSource> source;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null: the model has none (token ids only)
  std::unique_ptr<ChatTemplate> chat_template;  // null: the model has none (chat gets a 400)
  std::string chat_template_error;               // why it is null, when the template failed to parse
  ChatTemplateCaps chat_caps;                    // what the template does with tools and null content
  ReasoningFormat reasoning_format = ReasoningFormat::None;  // how the template's model thinks, if it does
  std::unique_ptr<Engine> engine;  // declared after the model and tokenizer: destroyed first
  std::vector<int32_t> eos_ids;  // the model's end tokens (config and tokenizer, merged)
  std::vector<std::string> control_texts;  // the texts of the vocabulary's control tokens
  int64_t vocab_size = 0;
  int64_t max_context = 0;       // tokens one sequence may hold (prompt + output)

  ServerMetrics metrics;
  std::unique_ptr<ResponseStore> responses;  // the Responses API's kept responses (created with the engine)
  LiveRequests live_requests;  // generation requests running now (GET /requests)

  // Embeddings: how token states become one vector, as the model's files say (default: the last
  // token, right for causal decoders).
  EmbeddingPooling embedding_pooling = EmbeddingPooling::Last;

  // The tokenizer, for routes that take or give text; without one, a 400 saying that only token
  // ids work (POST /v1/generate with input_tokens).
  const Tokenizer& text_tokenizer() const;

  // The vocabulary as a byte trie for constrained decoding; built on first use.
  std::shared_ptr<const TokenTrie> token_trie();

 private:
  std::once_flag trie_once_;
  std::shared_ptr<const TokenTrie> trie_;
};

}  // namespace ax::server
