#include "bench/http_transport.h"

#include <fmt/core.h>

#include <chrono>

#include "server/metrics.h"
#include "server/sse_client.h"
#include "util/error.h"

namespace ax::bench {
namespace {

using nlohmann::json;

httplib::Headers auth_headers(const std::string& api_key) {
  if (api_key.empty()) return {};
  return {{"Authorization", "Bearer " + api_key}};
}

std::shared_ptr<httplib::Client> make_client(const std::string& url) {
  auto c = std::make_shared<httplib::Client>(url);
  c->set_connection_timeout(10, 0);
  c->set_read_timeout(600, 0);  // a long prefill sends nothing for a while (ours sends keep-alives)
  c->set_write_timeout(60, 0);
  return c;
}

int64_t json_int(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : 0;
}

// Usage as OpenAI reports it (cached tokens under prompt_tokens_details).
void read_usage(const json& usage, RequestRecord& rec) {
  if (!usage.is_object()) return;
  rec.prompt_tokens = json_int(usage, "prompt_tokens");
  rec.completion_tokens = json_int(usage, "completion_tokens");
  if (usage.contains("prompt_tokens_details") && usage["prompt_tokens_details"].is_object())
    rec.cached_tokens = json_int(usage["prompt_tokens_details"], "cached_tokens");
}

std::optional<int64_t> counter_delta(const std::optional<std::string>& before, const std::optional<std::string>& after,
                                     const std::string& name) {
  if (!before || !after) return std::nullopt;
  auto a = server::prometheus_value(*before, name), b = server::prometheus_value(*after, name);
  if (!a || !b) return std::nullopt;
  return static_cast<int64_t>(*b - *a);
}

}  // namespace

struct HttpTransport::Live {
  std::shared_ptr<httplib::Client> client;
  std::atomic<bool> cancelled{false};
  std::thread thread;
};

std::string detect_api(const std::string& url, const std::string& api_key) {
  auto cli = make_client(url);
  auto res = cli->Post("/v1/generate", auth_headers(api_key), "{}", "application/json");
  if (!res) fail("--url {}: no answer from the server ({})", url, httplib::to_string(res.error()));
  // Ours refuses an empty body with 400 naming the missing input; others have no such route.
  return res->status == 400 && res->body.find("input_") != std::string::npos ? "ax" : "openai";
}

json describe_server(const HttpTarget& t) {
  auto cli = make_client(t.url);
  json d = {{"url", t.url}, {"api", t.api}};
  if (auto res = cli->Get("/v1/models", auth_headers(t.api_key)); res && res->status == 200) {
    json models = json::parse(res->body, nullptr, false);
    if (!models.is_discarded()) d["models"] = models;
  }
  if (auto res = cli->Get("/props", auth_headers(t.api_key)); res && res->status == 200) {  // llama-server
    json props = json::parse(res->body, nullptr, false);
    if (!props.is_discarded() && props.is_object()) {
      json keep = json::object();
      for (const char* k : {"build_info", "model_path", "total_slots", "n_ctx"})
        if (props.contains(k)) keep[k] = props[k];
      if (props.contains("default_generation_settings") && props["default_generation_settings"].contains("n_ctx"))
        keep["n_ctx"] = props["default_generation_settings"]["n_ctx"];
      d["props"] = keep;
    }
  }
  return d;
}

json request_body(const HttpTarget& t, const PlannedRequest& r, const Manifest& m) {
  const SamplingSpec& s = m.sampling;
  if (t.api == "ax") {
    json sampling = {{"temperature", s.temperature}, {"top_p", s.top_p}, {"top_k", s.top_k}, {"min_p", s.min_p},
                     {"repetition_penalty", s.repetition_penalty}, {"seed", r.seed}};
    return {{"input_tokens", r.prompt},
            {"max_output_tokens", r.max_tokens},
            {"sampling", sampling},
            {"ignore_eos", s.ignore_eos},
            {"speculation", {{"mode", m.runtime.speculation ? "ngram" : "off"}, {"max_draft", m.runtime.max_draft}}}};
  }
  json body = {{"model", t.model_name}, {"prompt", r.prompt},      {"max_tokens", r.max_tokens},
               {"temperature", s.temperature}, {"top_p", s.top_p}, {"seed", r.seed},
               {"stream", true},         {"stream_options", {{"include_usage", true}}}};
  // Extensions llama-server and vLLM read; sent only when they differ from "off".
  if (s.ignore_eos) body["ignore_eos"] = true;
  if (s.top_k > 0) body["top_k"] = s.top_k;
  if (s.min_p > 0) body["min_p"] = s.min_p;
  if (s.repetition_penalty != 1) {
    body["repetition_penalty"] = s.repetition_penalty;
    body["repeat_penalty"] = s.repetition_penalty;
  }
  return body;
}

HttpTransport::HttpTransport(HttpTarget target, const Manifest& m) : target_(std::move(target)), manifest_(m) {}

HttpTransport::~HttpTransport() {
  stop_sampler_ = true;
  if (sampler_.joinable()) sampler_.join();
  for (auto& [i, live] : live_) {
    live->cancelled = true;
    if (live->client) live->client->stop();
  }
  for (auto& [i, live] : live_)
    if (live->thread.joinable()) live->thread.join();
}

std::shared_ptr<httplib::Client> HttpTransport::client() const { return make_client(target_.url); }

std::optional<std::string> HttpTransport::scrape() const {
  auto res = client()->Get("/metrics", auth_headers(target_.api_key));
  if (!res || res->status != 200) return std::nullopt;
  return res->body;
}

void HttpTransport::begin(std::vector<RequestRecord>& records, const RunClock& clock) {
  records_ = &records;
  clock_ = &clock;
  metrics_before_ = scrape();
  if (metrics_before_ && server::prometheus_value(*metrics_before_, "ax_kv_blocks_used"))
    sampler_ = std::thread([this] { sample_gauges(); });
}

void HttpTransport::sample_gauges() {
  while (!stop_sampler_) {
    if (auto text = scrape()) {
      GaugeSample g;
      g.t_ms = clock_->now_ms();
      g.running = server::prometheus_value(*text, "ax_requests_running").value_or(0);
      g.waiting = server::prometheus_value(*text, "ax_requests_waiting").value_or(0);
      g.kv_blocks_used = server::prometheus_value(*text, "ax_kv_blocks_used").value_or(0);
      const double rss = server::prometheus_value(*text, "process_resident_memory_bytes").value_or(0);
      std::lock_guard lock(mu_);
      gauges_.push_back(g);
      peak_rss_bytes_ = std::max(peak_rss_bytes_, rss);
    }
    for (int i = 0; i < 10 && !stop_sampler_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void HttpTransport::submit(size_t i, const PlannedRequest& r) {
  auto live = std::make_shared<Live>();
  live->client = client();
  json body = request_body(target_, r, manifest_);
  {
    std::lock_guard lock(mu_);
    RequestRecord& rec = (*records_)[i];
    rec.has_token_ids = target_.api == "ax";
    rec.prompt_tokens = static_cast<int64_t>(r.prompt.size());
    live_[i] = live;
  }
  live->thread = std::thread([this, i, body = std::move(body), live] { run_request(i, body, live); });
}

void HttpTransport::run_request(size_t i, json body, std::shared_ptr<Live> live) {
  const bool ax_api = target_.api == "ax";
  const std::string path = ax_api ? "/v1/generate/stream" : "/v1/completions";
  std::string finish_reason, error;
  auto on_event = [&](const json& e) {
    if (live->cancelled) return false;
    const double now = clock_->now_ms();
    std::lock_guard lock(mu_);
    RequestRecord& rec = (*records_)[i];
    if (e.contains("error")) {
      error = e["error"].is_object() ? e["error"].value("message", e["error"].dump()) : e["error"].dump();
      return true;
    }
    int32_t count = 0;
    if (ax_api) {
      for (const auto& t : e.value("tokens", json::array())) rec.output.push_back(t.get<int32_t>());
      count = static_cast<int32_t>(e.value("tokens", json::array()).size());
      rec.text += e.value("text", "");
      if (e.contains("finish_reason")) {
        finish_reason = e["finish_reason"].get<std::string>();
        read_usage(e.value("usage", json()), rec);
        if (e.contains("timings")) rec.preemptions = json_int(e["timings"], "preemptions");
      }
    } else {
      if (e.contains("choices") && e["choices"].is_array() && !e["choices"].empty()) {
        const json& c = e["choices"][0];
        const std::string text = c.contains("text") && c["text"].is_string() ? c["text"].get<std::string>() : "";
        rec.text += text;
        count = text.empty() ? 0 : 1;
        if (c.contains("finish_reason") && c["finish_reason"].is_string()) finish_reason = c["finish_reason"].get<std::string>();
      }
      if (e.contains("usage") && e["usage"].is_object()) read_usage(e["usage"], rec);
    }
    if (count > 0) {
      if (rec.first_token_ms < 0) rec.first_token_ms = now;
      rec.arrivals.push_back({now, count});
    }
    return true;
  };
  server::SseResult res = server::post_sse(*live->client, path, body, on_event, auth_headers(target_.api_key));
  std::lock_guard lock(mu_);
  RequestRecord& rec = (*records_)[i];
  rec.finish_ms = clock_->now_ms();
  if (live->cancelled) {
    rec.finish_reason = "cancelled";
  } else if (!res.transport_ok) {
    rec.finish_reason = "error";
    rec.error = fmt::format("no response from {}{}", target_.url, path);
  } else if (res.status != 200) {
    rec.finish_reason = "error";
    rec.error = fmt::format("HTTP {}: {}", res.status, res.raw.substr(0, 300));
  } else if (!error.empty() || finish_reason.empty()) {
    rec.finish_reason = "error";
    rec.error = error.empty() ? "the stream ended without a finish_reason" : error;
  } else {
    rec.finish_reason = finish_reason == "length" ? "length" : "stop";
  }
  if (ax_api) rec.completion_tokens = static_cast<int64_t>(rec.output.size());
  else if (rec.completion_tokens == 0) {
    for (const auto& a : rec.arrivals) rec.completion_tokens += a.count;
  }
  finished_.push_back(i);
  cv_.notify_all();
}

void HttpTransport::cancel(size_t i) {
  std::shared_ptr<Live> live;
  {
    std::lock_guard lock(mu_);
    auto it = live_.find(i);
    if (it == live_.end()) return;
    live = it->second;
  }
  live->cancelled = true;
  live->client->stop();  // closes the socket under a blocked read
}

std::vector<size_t> HttpTransport::progress(double budget_ms) {
  std::vector<size_t> done;
  std::vector<std::shared_ptr<Live>> joinable;
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double, std::milli>(budget_ms), [&] { return !finished_.empty(); });
    done.swap(finished_);
    for (size_t i : done) {
      joinable.push_back(live_.at(i));
      live_.erase(i);
    }
  }
  for (auto& l : joinable) l->thread.join();
  return done;
}

void HttpTransport::end(RunRecord& run) {
  stop_sampler_ = true;
  if (sampler_.joinable()) sampler_.join();
  const std::optional<std::string> after = scrape();
  run.gauges = gauges_;
  if (after && server::prometheus_value(*after, "ax_kv_blocks_total")) {
    EngineTotals& t = run.totals;
    t.kv_blocks_total = static_cast<int64_t>(*server::prometheus_value(*after, "ax_kv_blocks_total"));
    int64_t peak = 0;
    for (const auto& g : gauges_) peak = std::max(peak, static_cast<int64_t>(g.kv_blocks_used));
    t.kv_blocks_peak_used = peak;
    t.preemptions = counter_delta(metrics_before_, after, "ax_engine_preemptions_total");
    t.prefix_evictions = counter_delta(metrics_before_, after, "ax_prefix_cache_evicted_blocks_total");
    t.spec_drafted = counter_delta(metrics_before_, after, "ax_spec_drafted_tokens_total");
    t.spec_accepted = counter_delta(metrics_before_, after, "ax_spec_accepted_tokens_total");
    if (peak_rss_bytes_ > 0) t.peak_rss_mb = peak_rss_bytes_ / (1024.0 * 1024.0);
  }
}

}  // namespace ax::bench
