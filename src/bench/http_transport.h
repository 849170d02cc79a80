#pragma once
// The HTTP target (`bench run --url`): each request is one streaming POST on its own thread, to
// our server or any OpenAI-compatible one, through the same SSE client the server's tests use.
//   api "ax":     POST /v1/generate/stream with input_tokens (token ids in and out, usage with
//                 cached tokens and preemptions), ax-engine serve's token route;
//   api "openai": POST /v1/completions with the prompt as token ids and stream: true; outputs
//                 are text (digests cover the text), tokens counted from usage or chunks.
// Cancelling closes the request's connection (the server cancels it when it notices). While a
// run is going, a sampler reads the server's /metrics every 100 ms where it has ours (queue, KV
// blocks, RSS) and takes counters (preemptions, evictions, speculation) before and after.
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bench/driver.h"
#include "bench/manifest.h"

namespace httplib {
class Client;
}

namespace ax::bench {

struct HttpTarget {
  std::string url;      // http://host:port
  std::string api;      // "ax" | "openai" (resolved, see detect_api)
  std::string api_key;  // sent as a Bearer token when set
  std::string model_name;  // OpenAI "model" field
};

// "auto" -> "ax" when the server answers the token route (POST /v1/generate), else "openai".
// Throws ax::Error when the server cannot be reached.
std::string detect_api(const std::string& url, const std::string& api_key);
// What the server says about itself (GET /v1/models, and /props for llama-server): recorded in
// environment.json.
nlohmann::json describe_server(const HttpTarget& target);
// The request body for one planned request.
nlohmann::json request_body(const HttpTarget& target, const PlannedRequest& r, const Manifest& m);

class HttpTransport : public Transport {
 public:
  HttpTransport(HttpTarget target, const Manifest& m);
  ~HttpTransport() override;

  void begin(std::vector<RequestRecord>& records, const RunClock& clock) override;
  void submit(size_t i, const PlannedRequest& r) override;
  void cancel(size_t i) override;
  std::vector<size_t> progress(double budget_ms) override;
  void end(RunRecord& run) override;

 private:
  struct Live;
  void run_request(size_t i, nlohmann::json body, std::shared_ptr<Live> live);
  void sample_gauges();
  std::shared_ptr<httplib::Client> client() const;
  std::optional<std::string> scrape() const;

  HttpTarget target_;
  const Manifest& manifest_;
  std::vector<RequestRecord>* records_ = nullptr;
  const RunClock* clock_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<size_t> finished_;
  std::map<size_t, std::shared_ptr<Live>> live_;
  std::vector<std::thread> threads_;
  std::thread sampler_;
  std::atomic<bool> stop_sampler_{false};
  std::vector<GaugeSample> gauges_;
  std::optional<std::string> metrics_before_;
  double peak_rss_bytes_ = 0;
};

}  // namespace ax::bench
