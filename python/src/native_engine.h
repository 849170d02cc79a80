#pragma once
// The C++ side of the Python package, free of Python: one model loaded on a backend with its
// tokenizer, chat template and a running engine, and the requests submitted to it. module.cpp
// binds this to Python (and releases the GIL around everything here that waits or computes).
//
// Lifetime: close() stops the engine (requests still running finish with an error) and drops the
// model. Work already under way keeps the loaded model alive until it returns (each call holds a
// reference); request streams hold only their event channel and a weak reference, so nothing a
// caller keeps after close() pins the model's memory.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/kv_cache.h"
#include "engine/events.h"
#include "engine/metric_samples.h"
#include "engine/request.h"
#include "model/embedding.h"

namespace ax {
class Engine;
class ChatTemplate;
class Model;
class ModelSource;
class Tokenizer;
}  // namespace ax

namespace ax::python {

struct EngineOptions {
  std::string model;             // a .gguf file or a Hugging Face folder
  BackendOptions backend;        // kind, device, threads
  int64_t kv_memory_mb = 0;      // 0: the backend's default budget (engine/kv_budget.h)
  KvType kv_type = KvType::F16;
  int64_t max_num_seqs = 64;
  bool speculation = true;       // n-gram speculation for requests that do not say
  int max_draft = SpeculationParams::kDefaultMaxDraft;
};

// One request's options as Python passes them; unset fields take the engine's defaults.
struct GenerateOptions {
  std::optional<int64_t> max_tokens;  // unset: until the context is full (or EOS)
  SamplingParams sampling;
  std::optional<uint64_t> seed;       // unset: a fresh random seed
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  int32_t top_logprobs = -1;          // -1: none; 0: the chosen token's; n: plus the n most likely
  std::optional<bool> speculation;
  std::optional<int> max_draft;
};

// Everything one loaded model needs, built in order and destroyed in reverse (the engine first).
struct Runtime {
  explicit Runtime(const EngineOptions& options);
  ~Runtime();

  EngineOptions options;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ModelSource> source;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ChatTemplate> chat_template;  // null: the model has none
  std::string chat_template_error;               // why it is null when the template did not parse
  EmbeddingPooling pooling = EmbeddingPooling::Last;
  std::unique_ptr<Engine> engine;
};

// A submitted request: its events, and a way to cancel it while the engine lives.
class RequestStream {
 public:
  RequestStream(uint64_t id, std::shared_ptr<EventChannel> events, std::weak_ptr<Runtime> runtime)
      : id_(id), events_(std::move(events)), runtime_(std::move(runtime)) {}
  ~RequestStream() { cancel(); }
  RequestStream(const RequestStream&) = delete;
  RequestStream& operator=(const RequestStream&) = delete;

  // The next event, waiting at most `timeout`; nothing when none came.
  std::optional<Event> next(std::chrono::milliseconds timeout);
  // Stops the request if it still runs (its KV blocks are freed at the engine's next step).
  void cancel();
  bool finished() const { return finished_; }

 private:
  uint64_t id_;
  std::shared_ptr<EventChannel> events_;
  std::weak_ptr<Runtime> runtime_;
  bool finished_ = false;  // the Finish event was taken
};

class NativeEngine {
 public:
  explicit NativeEngine(const EngineOptions& options);  // loads the model and starts the engine
  ~NativeEngine();

  void close();
  bool closed() const;

  std::vector<int32_t> tokenize(const std::string& text, bool add_special) const;
  std::string detokenize(const std::vector<int32_t>& ids) const;
  // The model's chat template over messages (a JSON array of message objects, key order kept as
  // the server keeps it), rendered as /v1/chat/completions renders it. tools_json and
  // kwargs_json: a JSON array / object, or empty.
  std::string apply_chat_template(const std::string& messages_json, bool add_generation_prompt,
                                  const std::string& tools_json, const std::string& kwargs_json) const;
  // The rendered chat tokenized as the server does (the template writes the special tokens).
  std::vector<int32_t> chat_prompt(const std::string& messages_json, const std::string& kwargs_json) const;

  std::vector<int32_t> encode_prompt(const std::string& text) const;  // as /v1/completions encodes text
  std::unique_ptr<RequestStream> submit(std::vector<int32_t> prompt, const GenerateOptions& options);

  // One L2-normalised vector per input ([hidden_size] each), as /v1/embeddings computes them.
  std::vector<std::vector<float>> embed(const std::vector<std::vector<int32_t>>& inputs) const;

  std::vector<MetricSample> metrics() const;

  struct Info {
    std::string model_path, architecture, backend, kv_cache, tokenizer, pooling;
    int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, max_context = 0;
    bool has_chat_template = false;
  };
  Info info() const;

 private:
  std::shared_ptr<Runtime> runtime() const;  // throws ax::Error once closed

  mutable std::mutex mu_;
  std::shared_ptr<Runtime> runtime_;
};

}  // namespace ax::python
