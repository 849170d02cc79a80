#include "native_engine.h"

#include <random>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "model/model.h"
#include "model/model_source.h"
#include "tokenizer/chat_prompt.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::python {

using nlohmann::ordered_json;

Runtime::Runtime(const EngineOptions& o) : options(o) {
  backend = make_backend(o.backend);
  source = open_model(o.model);
  model = load_model(*source, *backend);
  tokenizer = load_tokenizer(*source);
  // A template that does not parse leaves chat unavailable (an error saying why), as on the server.
  const std::string tpl = tokenizer->chat_template();
  if (!tpl.empty()) {
    try {
      chat_template = std::make_unique<ChatTemplate>(tpl);
    } catch (const std::exception& e) {
      chat_template_error = e.what();
    }
  }
  pooling = detect_embedding_pooling(*source);
  EngineConfig ec;
  ec.kv_memory_bytes = o.kv_memory_mb * (int64_t{1} << 20);
  ec.kv_type = o.kv_type;
  ec.max_num_seqs = o.max_num_seqs;
  engine = std::make_unique<Engine>(*model, tokenizer.get(), ec);
  engine->start();
}

Runtime::~Runtime() {
  if (engine) engine->stop();
  engine.reset();
}

std::optional<Event> RequestStream::next(std::chrono::milliseconds timeout) {
  std::optional<Event> e = events_->pop_for(timeout);
  if (e && e->kind == EventKind::Finish) finished_ = true;
  return e;
}

void RequestStream::cancel() {
  if (finished_ || events_->finished()) return;
  if (std::shared_ptr<Runtime> rt = runtime_.lock()) rt->engine->cancel(id_);
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
  if (rt) rt->engine->stop();
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
  return runtime()->tokenizer->encode(text, add_special, /*parse_special=*/true);
}

std::string NativeEngine::detokenize(const std::vector<int32_t>& ids) const {
  return runtime()->tokenizer->decode(ids, /*skip_special=*/false);
}

namespace {

ordered_json parse_json(const std::string& text, const char* what, bool want_array) {
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail("{} is not valid JSON", what);
  if (want_array && !j.is_array()) fail("{} must be a list", what);
  if (!want_array && !j.is_object()) fail("{} must be a dict", what);
  return j;
}

}  // namespace

std::string NativeEngine::apply_chat_template(const std::string& messages_json, bool add_generation_prompt,
                                              const std::string& tools_json, const std::string& kwargs_json) const {
  std::shared_ptr<Runtime> rt = runtime();
  if (!rt->chat_template) {
    if (!rt->chat_template_error.empty())
      fail("messages cannot be rendered: the model's chat template failed to load ({})", rt->chat_template_error);
    fail("messages cannot be rendered: the model has no chat template; use generate() with a prompt");
  }
  const ordered_json messages = parse_json(messages_json, "messages", true);
  if (messages.empty()) fail("messages must hold at least one message");
  ChatTemplateOptions opt = chat_template_options(*rt->tokenizer);
  opt.add_generation_prompt = add_generation_prompt;
  if (!tools_json.empty()) opt.tools = parse_json(tools_json, "tools", true);
  if (!kwargs_json.empty()) opt.extra_context = parse_json(kwargs_json, "chat_template_kwargs", false);
  try {
    return rt->chat_template->render(messages, opt);
  } catch (const std::exception& e) {
    fail("messages cannot be rendered with the model's chat template: {}", e.what());
  }
}

std::vector<int32_t> NativeEngine::chat_prompt(const std::string& messages_json, const std::string& kwargs_json) const {
  const std::string text = apply_chat_template(messages_json, /*add_generation_prompt=*/true, {}, kwargs_json);
  return runtime()->tokenizer->encode(text, /*add_special=*/false, /*parse_special=*/true);
}

std::vector<int32_t> NativeEngine::encode_prompt(const std::string& text) const {
  return runtime()->tokenizer->encode(text, /*add_special=*/true, /*parse_special=*/true);
}

std::unique_ptr<RequestStream> NativeEngine::submit(std::vector<int32_t> prompt, const GenerateOptions& o) {
  std::shared_ptr<Runtime> rt = runtime();
  if (prompt.empty()) fail("prompt encodes to no tokens; the prompt must not be empty");
  Request r;
  const int64_t room = rt->engine->sequence_capacity() - static_cast<int64_t>(prompt.size());
  r.stop.max_tokens = o.max_tokens ? *o.max_tokens : std::max<int64_t>(room, 1);
  r.prompt = std::move(prompt);
  r.sampling = o.sampling;
  r.sampling.seed = o.seed ? *o.seed : (uint64_t{std::random_device{}()} << 32 | std::random_device{}());
  r.stop.stop_strings = o.stop;
  r.stop.stop_token_ids = o.stop_token_ids;
  r.stop.ignore_eos = o.ignore_eos;
  r.top_logprobs = o.top_logprobs;
  r.speculation.enabled = o.speculation.value_or(rt->options.speculation);
  r.speculation.max_draft = o.max_draft.value_or(rt->options.max_draft);
  if (r.speculation.max_draft < 1 || r.speculation.max_draft > SpeculationParams::kMaxMaxDraft)
    fail("max_draft must be in [1, {}], got {}", SpeculationParams::kMaxMaxDraft, r.speculation.max_draft);
  RequestHandle h = rt->engine->submit(std::move(r));
  return std::make_unique<RequestStream>(h.id, h.events, rt);
}

std::vector<std::vector<float>> NativeEngine::embed(const std::vector<std::vector<int32_t>>& inputs) const {
  std::shared_ptr<Runtime> rt = runtime();
  const int64_t vocab = rt->model->config().vocab_size, capacity = rt->engine->sequence_capacity();
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t>& ids = inputs[i];
    if (ids.empty()) fail("input {} encodes to no tokens; inputs must not be empty", i);
    if (static_cast<int64_t>(ids.size()) > capacity)
      fail("input {} has {} tokens; this model's maximum context length is {}", i, ids.size(), capacity);
    for (int32_t id : ids)
      if (id < 0 || id >= vocab) fail("input {} holds token id {}, outside the vocabulary [0, {})", i, id, vocab);
    out.push_back(embed_tokens(*rt->model, ids, rt->pooling));
  }
  return out;
}

std::vector<MetricSample> NativeEngine::metrics() const { return metric_samples(runtime()->engine->metrics()); }

NativeEngine::Info NativeEngine::info() const {
  std::shared_ptr<Runtime> rt = runtime();
  const ModelConfig& c = rt->model->config();
  Info i;
  i.model_path = rt->source->path();
  i.architecture = c.arch_name;
  i.backend = rt->backend->description();
  i.kv_cache = rt->engine->kv_explanation();
  i.tokenizer = rt->tokenizer->kind();
  i.pooling = rt->pooling == EmbeddingPooling::Mean ? "mean" : "last";
  i.vocab_size = c.vocab_size;
  i.hidden_size = c.hidden_size;
  i.num_layers = c.num_layers;
  i.max_context = rt->engine->sequence_capacity();
  i.has_chat_template = rt->chat_template != nullptr;
  return i;
}

}  // namespace ax::python
