#include "native_engine.h"

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "model/embedding.h"
#include "model/model.h"
#include "model/model_source.h"
#include "server/chat_prompt.h"
#include "server/serving.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::python {

using nlohmann::ordered_json;

Runtime::Runtime(const EngineOptions& o) {
  server::ServerOptions& so = ctx.options;
  so.model_path = o.model;
  so.backend = o.backend;
  so.kv_memory_mb = o.kv_memory_mb;
  so.kv_type = o.kv_type;
  so.max_num_seqs = o.max_num_seqs;
  so.default_speculation = o.speculation;
  so.default_max_draft = o.max_draft;
  // Loaded as `ax-engine serve` loads it (cli/cmd_serve.cpp).
  ctx.backend = make_backend(o.backend);
  ctx.source = open_model(o.model);
  ctx.model = load_model(*ctx.source, *ctx.backend);
  ctx.tokenizer = load_tokenizer(*ctx.source);
  server::start_engine(ctx);
  ctx.ready = true;
}

Runtime::~Runtime() { server::stop_engine(ctx); }

std::optional<Event> RequestStream::next(std::chrono::milliseconds timeout) {
  std::optional<Event> e = events_->pop_for(timeout);
  if (e && e->kind == EventKind::Finish) finished_ = true;
  return e;
}

void RequestStream::cancel() {
  if (finished_ || events_->finished()) return;
  if (std::shared_ptr<Runtime> rt = runtime_.lock()) rt->ctx.engine->cancel(id_);
}

NativeEngine::NativeEngine(const EngineOptions& options) : runtime_(std::make_shared<Runtime>(options)) {}

NativeEngine::~NativeEngine() { close(); }

void NativeEngine::close() {
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard lock(mu_);
    rt.swap(runtime_);
  }
  // Requests still running get their Finish (an error) now; the model goes when the last call
  // that holds it returns.
  if (rt) server::stop_engine(rt->ctx);
}

bool NativeEngine::closed() const {
  std::lock_guard lock(mu_);
  return !runtime_;
}

std::shared_ptr<Runtime> NativeEngine::runtime() const {
  std::lock_guard lock(mu_);
  if (!runtime_) fail("the engine is closed");
  return runtime_;
}

std::vector<int32_t> NativeEngine::tokenize(const std::string& text, bool add_special) const {
  return runtime()->ctx.tokenizer->encode(text, add_special, /*parse_special=*/true);
}

std::string NativeEngine::detokenize(const std::vector<int32_t>& ids) const {
  std::shared_ptr<Runtime> rt = runtime();
  server::check_token_ids(ids, rt->ctx.vocab_size, "ids");
  return rt->ctx.tokenizer->decode(ids, /*skip_special=*/false);
}

namespace {

// The chat request as the server parses it, and its raw JSON (key order kept for the template).
struct ChatInput {
  ordered_json raw;
  server::ChatRequest request;
  bool tools_on = false;
};

ChatInput parse_chat(const std::string& request_json) {
  ChatInput in;
  in.raw = ordered_json::parse(request_json);
  in.request = server::parse_chat_request(nlohmann::json::parse(request_json));
  in.tools_on = !in.request.tools.empty() && in.request.tool_choice.mode != server::ToolChoice::Mode::None;
  return in;
}

}  // namespace

std::string NativeEngine::apply_chat_template(const std::string& request_json, bool add_generation_prompt) const {
  std::shared_ptr<Runtime> rt = runtime();
  const ChatInput in = parse_chat(request_json);
  return server::render_chat_text(rt->ctx, in.request, in.raw, in.tools_on, add_generation_prompt);
}

std::vector<int32_t> NativeEngine::chat_prompt(const std::string& request_json) const {
  std::shared_ptr<Runtime> rt = runtime();
  const ChatInput in = parse_chat(request_json);
  return server::render_chat_prompt(rt->ctx, in.request, in.raw, /*with_tools=*/false);
}

std::vector<int32_t> NativeEngine::encode_prompt(const std::string& text) const {
  return runtime()->ctx.tokenizer->encode(text, /*add_special=*/true, /*parse_special=*/true);
}

std::unique_ptr<RequestStream> NativeEngine::submit(std::vector<int32_t> prompt, const GenerateOptions& o,
                                                    const std::string& prompt_param) {
  std::shared_ptr<Runtime> rt = runtime();
  server::ServingContext& ctx = rt->ctx;
  server::check_token_ids(prompt, ctx.vocab_size, prompt_param);
  server::check_token_ids(o.stop_token_ids, ctx.vocab_size, "stop_token_ids");
  // As /v1/generate builds it (route_generate.cpp).
  Request r = server::make_engine_request(ctx, std::move(prompt), o.gen, 0, prompt_param);
  r.stop.stop_token_ids = o.stop_token_ids;
  RequestHandle h = ctx.engine->submit(std::move(r));
  return std::make_unique<RequestStream>(h.id, h.events, rt);
}

std::vector<std::vector<float>> NativeEngine::embed(const std::vector<std::vector<int32_t>>& inputs) const {
  std::shared_ptr<Runtime> rt = runtime();
  const server::ServingContext& ctx = rt->ctx;
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t>& ids = inputs[i];
    if (ids.empty()) fail("input {} encodes to no tokens; inputs must not be empty", i);
    if (static_cast<int64_t>(ids.size()) > ctx.max_context)
      fail("input {} has {} tokens; this model's maximum context length is {}", i, ids.size(), ctx.max_context);
    server::check_token_ids(ids, ctx.vocab_size, fmt::format("input[{}]", i));
    out.push_back(embed_tokens(*ctx.model, ids, ctx.embedding_pooling));
  }
  return out;
}

std::vector<MetricSample> NativeEngine::metrics() const { return metric_samples(runtime()->ctx.engine->metrics()); }

NativeEngine::Info NativeEngine::info() const {
  std::shared_ptr<Runtime> rt = runtime();
  const server::ServingContext& ctx = rt->ctx;
  const ModelConfig& c = ctx.model->config();
  Info i;
  i.model_path = ctx.source->path();
  i.architecture = c.arch_name;
  i.backend = ctx.backend->description();
  i.kv_cache = ctx.engine->kv_explanation();
  i.tokenizer = ctx.tokenizer->kind();
  i.pooling = ctx.embedding_pooling == EmbeddingPooling::Mean ? "mean" : "last";
  i.vocab_size = c.vocab_size;
  i.hidden_size = c.hidden_size;
  i.num_layers = c.num_layers;
  i.max_context = ctx.max_context;
  i.has_chat_template = ctx.chat_template != nullptr;
  return i;
}

}  // namespace ax::python
