#include "server/chat_generation.h"

#include <algorithm>
#include <limits>

#include "server/api_error.h"
#include "server/chat_prompt.h"
#include "server/thinking_budget.h"
#include "server/token_mask.h"
#include "server/tool_call_schema.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {
namespace {

using nlohmann::ordered_json;

// The grammar the output must follow, if any: response_format json_object / json_schema, or one
// tool call when tool_choice is "required" or names a function.
std::shared_ptr<const CompiledSchema> output_grammar(const ChatRequest& cr, bool tools_on) {
  const ResponseFormat& rf = cr.gen.response_format;
  const bool forced_tool = tools_on && (cr.tool_choice.mode == ToolChoice::Mode::Required ||
                                        cr.tool_choice.mode == ToolChoice::Mode::Named);
  if (forced_tool) {
    if (rf.kind != ResponseFormat::Kind::Text)
      bad_param("response_format", "cannot be combined with tool_choice 'required' or a named function");
    return std::make_shared<CompiledSchema>(compile_tool_call_schema(cr.tools, cr.tool_choice));
  }
  return response_format_grammar(rf);
}

// Thinking controls reach the template as the variables templates read: enable_thinking (Qwen3,
// GLM, DeepSeek-V3.1's "thinking" too) and reasoning_effort (gpt-oss). What the client set in
// chat_template_kwargs itself wins.
void add_thinking_kwargs(ordered_json& raw, const ThinkingOptions& t) {
  if (!t.enabled && !t.effort) return;
  if (!raw.contains("chat_template_kwargs") || raw["chat_template_kwargs"].is_null())
    raw["chat_template_kwargs"] = ordered_json::object();
  ordered_json& kw = raw["chat_template_kwargs"];
  if (!kw.is_object()) return;  // chat_prompt.cpp names the error
  if (t.enabled) {
    if (!kw.contains("enable_thinking")) kw["enable_thinking"] = *t.enabled;
    if (!kw.contains("thinking")) kw["thinking"] = *t.enabled;
  }
  if (t.effort && !kw.contains("reasoning_effort")) kw["reasoning_effort"] = *t.effort;
}

// Thinking turned off: the model may not open a thought of its own accord (a bias of -inf on the
// opening tag, where the vocabulary has it as one token; a bias the client set for it stays).
// A bias rather than a logits processor, so that speculative decoding still drafts for it.
void forbid_opening_thought(const ServingContext& ctx, std::vector<Request>& requests) {
  const std::vector<int32_t> open =
      ctx.text_tokenizer().encode(std::string(ReasoningParser::kThinkOpen), /*add_special=*/false, /*parse_special=*/true);
  if (open.size() != 1) return;
  for (Request& r : requests) r.sampling.logit_bias.emplace(open[0], -std::numeric_limits<float>::infinity());
}

}  // namespace

std::shared_ptr<const CompiledSchema> response_format_grammar(const ResponseFormat& rf) {
  if (rf.kind == ResponseFormat::Kind::JsonObject) return std::make_shared<CompiledSchema>(any_json_object_schema());
  if (rf.kind == ResponseFormat::Kind::JsonSchema)
    return std::make_shared<CompiledSchema>(compile_json_schema(rf.schema, rf.schema_param));
  return nullptr;
}

ThinkingOptions thinking_from_effort(const std::string& effort, const std::string& param) {
  ThinkingOptions t;
  if (effort == "none") {
    t.enabled = false;
  } else if (effort == "minimal" || effort == "low" || effort == "medium" || effort == "high") {
    t.effort = effort == "minimal" ? "low" : effort;
  } else {
    bad_param(param, "must be 'none', 'minimal', 'low', 'medium' or 'high', got '{}'", effort);
  }
  return t;
}

std::vector<int32_t> chat_prompt_tokens(ServingContext& ctx, const ChatRequest& cr, ordered_json raw,
                                        const ThinkingOptions& thinking) {
  add_thinking_kwargs(raw, thinking);
  const bool tools_on = !cr.tools.empty() && cr.tool_choice.mode != ToolChoice::Mode::None;
  return render_chat_prompt(ctx, cr, raw, tools_on);
}

ChatJob prepare_chat(ServingContext& ctx, const ChatRequest& cr, ordered_json raw, const ThinkingOptions& thinking) {
  ChatJob job;
  job.tools_on = !cr.tools.empty() && cr.tool_choice.mode != ToolChoice::Mode::None;
  std::shared_ptr<const CompiledSchema> schema = output_grammar(cr, job.tools_on);
  if (schema && cr.gen.ignore_eos)
    bad_param("ignore_eos", "cannot be combined with constrained output (response_format or a forced tool call)");
  if (schema && ctx.eos_ids.empty())
    bad_param("response_format", "needs an end-of-sequence token, and this model has none");
  ThinkingOptions t = thinking;
  // Constrained output starts at the first token, so there is no room for a thought before it.
  if (schema && !t.enabled) t.enabled = false;
  std::vector<int32_t> prompt = chat_prompt_tokens(ctx, cr, raw, t);
  job.prompt_tokens = static_cast<int64_t>(prompt.size());
  job.reasoning = ctx.reasoning_format;
  if (job.reasoning != ReasoningFormat::None && !schema)
    job.reasoning_starts_inside = prompt_opens_reasoning(job.reasoning, ctx.text_tokenizer().decode(prompt));
  job.requests = make_choice_requests(ctx, prompt, cr.gen, "messages", schema);
  if (t.enabled == false && job.reasoning == ReasoningFormat::Think && !job.reasoning_starts_inside) {
    // Thinking off: whatever the model writes is the answer, a "<think>" it spells out included.
    forbid_opening_thought(ctx, job.requests);
    job.reasoning = ReasoningFormat::None;
  }
  if (t.budget_tokens && !schema) {
    if (job.reasoning == ReasoningFormat::None)
      bad_param(t.budget_param, "needs a model whose chat template thinks; this one does not");
    for (Request& r : job.requests)
      r.logits_processor = std::make_shared<ThinkingBudget>(ctx.text_tokenizer(), job.reasoning, job.reasoning_starts_inside,
                                                            *t.budget_tokens);
  }
  return job;
}

ChatOutput::ChatOutput(const ServingContext& ctx, const ChatJob& job)
    : ctx_(ctx), format_(job.reasoning), reasoning_(job.reasoning, job.reasoning_starts_inside) {
  if (job.tools_on) tools_ = std::make_unique<ToolCallParser>();
  if (format_ == ReasoningFormat::Channels)
    special_decoder_ = std::make_unique<StreamDecoder>(ctx.text_tokenizer(), /*skip_special=*/false);
}

ChatOutput::~ChatOutput() = default;

ChatDelta ChatOutput::push(const Event& e) {
  const bool end = e.kind == EventKind::Finish;
  std::string text = e.text;
  if (special_decoder_) {
    // The event's text leaves special tokens out, and the channels are special tokens: decode the
    // tokens again with them (end tokens excepted: they end the output, they are not in it).
    text.clear();
    for (const TokenInfo& t : e.tokens)
      if (std::find(ctx_.eos_ids.begin(), ctx_.eos_ids.end(), t.id) == ctx_.eos_ids.end())
        text += special_decoder_->push(t.id);
    if (end) text += special_decoder_->flush();
  }
  const bool was_thinking = reasoning_.inside_reasoning();
  ReasoningSplit split = reasoning_.push(text);
  if (end) {
    ReasoningSplit rest = reasoning_.finish();
    split.reasoning += rest.reasoning;
    split.content += rest.content;
    for (auto& c : rest.calls) split.calls.push_back(std::move(c));
  }
  if (was_thinking || !split.reasoning.empty()) reasoning_tokens_ += static_cast<int64_t>(e.tokens.size());
  ChatDelta d;
  d.reasoning = std::move(split.reasoning);
  if (!tools_) {
    // No tools were offered (or tool_choice is "none"): a harmony call the model made anyway is text.
    for (const ParsedToolCall& c : split.calls) split.content += c.arguments;
    d.content = std::move(split.content);
    return d;
  }
  // Harmony calls come out of the reasoning parser; Hermes calls out of the answer text.
  d.calls = std::move(split.calls);
  ToolParseOutput out = tools_->push(split.content);
  if (end) {
    ToolParseOutput rest = tools_->finish();
    out.content += rest.content;
    for (auto& c : rest.calls) out.calls.push_back(std::move(c));
  }
  d.content = std::move(out.content);
  for (auto& c : out.calls) d.calls.push_back(std::move(c));
  return d;
}

StopKind stop_kind(const Event& finish, bool made_tool_calls, const std::vector<std::string>& stop_strings) {
  if (finish.reason == FinishReason::Length) return StopKind::Length;
  if (made_tool_calls) return StopKind::ToolCalls;
  if (!finish.stop.empty() && std::find(stop_strings.begin(), stop_strings.end(), finish.stop) != stop_strings.end())
    return StopKind::StopString;
  return StopKind::EndOfTurn;
}

}  // namespace ax::server
