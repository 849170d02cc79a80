#include "server/sse_stream.h"

#include <chrono>

#include "server/api_error.h"
#include "server/httplib_config.h"

namespace ax::server {

using Clock = std::chrono::steady_clock;

ApiError finish_error(const Event& e) {
  if (e.reason == FinishReason::Cancelled)
    return ApiError(503, "The request was cancelled: the server is shutting down.", "server_error", "", "cancelled");
  return ApiError(500, e.error.empty() ? "The engine failed on this request." : e.error, "server_error", "", "engine_error");
}

void run_blocking(ServingContext& ctx, ChoiceGroup& group, const std::function<void(size_t, const Event&)>& on_event) {
  bool cancelled = false;
  while (!group.done()) {
    if (ctx.cancel_all.load() && !cancelled) {
      group.cancel();
      cancelled = true;
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

void stream_sse(httplib::Response& res, ServingContext& ctx, std::shared_ptr<SseJob> job) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider("text/event-stream", [job, &ctx](size_t, httplib::DataSink& sink) {
    auto write = [&](const std::string& s) { return s.empty() || sink.write(s.data(), s.size()); };
    // A false return ends the response; the job (and with it the group) is then destroyed,
    // which cancels whatever is still running.
    if (job->on_start && !write(job->on_start())) return false;
    auto last_write = Clock::now();
    bool cancelled = false;
    while (!job->group->done()) {
      if (ctx.cancel_all.load() && !cancelled) {
        job->group->cancel();
        cancelled = true;
      }
      auto ev = job->group->next(std::chrono::milliseconds(250));
      if (!ev) {
        if (Clock::now() - last_write > std::chrono::seconds(1)) {
          if (!write(": keep-alive\n\n")) return false;
          last_write = Clock::now();
        }
        continue;
      }
      const Event& e = ev->second;
      if (e.kind == EventKind::Finish && (e.reason == FinishReason::Error || e.reason == FinishReason::Cancelled)) {
        job->group->cancel();
        write(sse_data(finish_error(e).to_json()));
        write(kSseDone);
        sink.done();
        return true;
      }
      std::string out;
      try {
        out = job->on_event(ev->first, e);
      } catch (const std::exception& ex) {
        // Headers are gone already: the failure becomes the stream's last event.
        job->group->cancel();
        write(sse_data(ApiError(500, ex.what(), "server_error").to_json()));
        write(kSseDone);
        sink.done();
        return true;
      }
      if (!write(out)) return false;
      last_write = Clock::now();
    }
    if (job->on_end && !write(job->on_end())) return false;
    if (!write(kSseDone)) return false;
    sink.done();
    return true;
  });
}

}  // namespace ax::server
