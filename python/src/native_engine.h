#pragma once
// The C++ side of the Python package, free of Python: a model loaded and served as `ax-engine
// serve` serves it, minus HTTP. It holds the server's own ServingContext (started by the server's
// start_engine), renders chats and builds engine requests with the server's functions, so the same
// request gives the same tokens in-process and over HTTP. module.cpp binds this to Python (and
// releases the GIL around everything here that waits or computes).
//
// Lifetime: close() stops the engine (requests still running finish with an error) and drops the
// model. Work already under way keeps the loaded model alive until it returns (each call holds a
// reference); request streams hold only their event channel and a weak reference, so nothing a
// caller keeps after close() pins the model's memory.
//
// Errors: ax::Error from the engine and server::ApiError from the server's checks, each one
// sentence naming the parameter at fault.
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
#include "engine/spec_params.h"
#include "server/openai_request.h"
#include "server/server_context.h"

namespace ax::python {

struct EngineOptions {
  std::string model;             // a .gguf file or a Hugging Face folder
  BackendOptions backend;        // kind, device, threads
  int64_t kv_memory_mb = -1;     // -1: as the server, 512 MiB on the CPU, the backend's default elsewhere
  KvType kv_type = KvType::F16;
  int64_t max_num_seqs = 64;
  bool speculation = true;       // n-gram speculation for requests that do not say
  int max_draft = SpeculationParams::kDefaultMaxDraft;
};

// One request's options: the server's (as /v1/generate fills them) and its stop token ids.
struct GenerateOptions {
  server::GenerationOptions gen;
  std::vector<int32_t> stop_token_ids;
};

// The loaded model: the server's context, its engine stopped on destruction (before the model).
struct Runtime {
  explicit Runtime(const EngineOptions& options);
  ~Runtime();
  server::ServingContext ctx;
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
  // The chat request {"messages": [...], "tools": [...], "chat_template_kwargs": {...}} (JSON text,
  // key order kept as the server keeps it) rendered as /apply-template renders it.
  std::string apply_chat_template(const std::string& request_json, bool add_generation_prompt) const;
  // The same request as the prompt tokens /v1/chat/completions generates from.
  std::vector<int32_t> chat_prompt(const std::string& request_json) const;

  std::vector<int32_t> encode_prompt(const std::string& text) const;  // as /v1/generate encodes input_text
  // prompt_param names where the prompt came from ("prompt", "messages") in errors.
  std::unique_ptr<RequestStream> submit(std::vector<int32_t> prompt, const GenerateOptions& options,
                                        const std::string& prompt_param);

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
