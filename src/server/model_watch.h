#pragma once
// Watches the files the model is mapped from (util/mapped_file.h), every `period`. A file replaced
// by a new one (renamed over, or deleted) is harmless: the server keeps the old one open and says
// so once on stderr. A file rewritten or truncated in place changes the weights under the server:
// it then refuses generation with 503 model_file_changed, /health answers 503 with the reason, and
// stderr says to restart. (A truncation that a running request reads first ends the process with
// a clear message instead: crash_report.h.)
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/server_context.h"

namespace ax::server {

class ModelFileWatch {
 public:
  ModelFileWatch(ServingContext& ctx, std::chrono::milliseconds period);
  ~ModelFileWatch();
  ModelFileWatch(const ModelFileWatch&) = delete;
  ModelFileWatch& operator=(const ModelFileWatch&) = delete;

  // One look at the files now (the thread calls it every period).
  void check();

 private:
  ServingContext& ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool replaced_noted_ = false;
  std::thread thread_;
};

}  // namespace ax::server
