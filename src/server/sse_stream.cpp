#include "server/sse_stream.h"

#include <chrono>

#include "server/api_error.h"

namespace ax::server {

using Clock = std::chrono::steady_clock;

ApiError finish_error(const Event& e) {
  if (e.reason == FinishReason::Cancelled)
    return ApiError(503, "The request was cancelled: the server is shutting down.", "server_error", "", "cancelled");
  return ApiError(500, e.error.empty() ? "The engine failed on this request." : e.error, "server_error", "", "engine_error");
}

void run_blocking(const HttpRequest& req, ServingContext& ctx, ChoiceGroup& group,
                  const std::function<void(size_t, const Event&)>& on_event) {
  bool cancelled = false;
  while (!group.done()) {
    if (ctx.cancel_all.load() && !cancelled) {
      group.cancel();
      cancelled = true;
    }
    if (req.client_gone()) {
      // Nobody is left to answer: the engine stops working for them now.
      group.cancel();
      throw ApiError(499, "The client closed the connection.", "invalid_request_error", "", "client_closed");
    }
    auto ev = group.next(std::chrono::milliseconds(100));
    if (!ev) continue;
    const Event& e = ev->second;
    if (e.kind == EventKind::Finish && (e.reason == FinishReason::Error || e.reason == FinishReason::Cancelled)) {
      group.cancel();
      throw finish_error(e);
    }
    on_event(ev->first, e);
  }
}

std::string sse_event(const std::string& name, const nlohmann::json& data) {
  return "event: " + name + "\n" + sse_data(data);
}

void stream_sse(const HttpRequest& req, HttpResponse& res, ServingContext& ctx, SseJob& job) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  StreamWriter* out = res.start_stream(job.content_type);
  if (!out) throw ApiError(500, "This transport cannot stream.", "server_error");
  auto write = [&](const std::string& s) { return s.empty() || out->write(s); };
  auto fail = [&](const ApiError& e) {
    job.group->cancel();
    if (job.on_error) {
      write(job.on_error(e));
      return;
    }
    write(sse_data(e.to_json()));
    write(kSseDone);
  };
  // Returning early destroys the job's group with the caller's job, which cancels what still runs.
  if (job.on_start && !write(job.on_start())) return;
  auto last_write = Clock::now();
  bool cancelled = false;
  while (!job.group->done()) {
    if (ctx.cancel_all.load() && !cancelled) {
      job.group->cancel();
      cancelled = true;
    }
    if (req.client_gone()) return;
    auto ev = job.group->next(std::chrono::milliseconds(250));
    if (!ev) {
      if (Clock::now() - last_write > std::chrono::seconds(1)) {
        if (!write(job.keep_alive)) return;
        last_write = Clock::now();
      }
      continue;
    }
    const Event& e = ev->second;
    if (e.kind == EventKind::Finish && (e.reason == FinishReason::Error || e.reason == FinishReason::Cancelled)) {
      fail(finish_error(e));
      return;
    }
    std::string text;
    try {
      text = job.on_event(ev->first, e);
    } catch (const std::exception& ex) {
      // Headers are gone already: the failure becomes the stream's last event.
      fail(ApiError(500, ex.what(), "server_error"));
      return;
    }
    if (!write(text)) return;
    last_write = Clock::now();
  }
  if (job.on_end && !write(job.on_end())) return;
  if (job.done_marker) write(kSseDone);
}

}  // namespace ax::server
