#pragma once
// Crashes leave a trace. install_fatal_signal_handlers() makes SIGSEGV, SIGBUS, SIGFPE, SIGILL and
// SIGABRT write one line on stderr before the process dies: the signal, the faulting address and
// the ids of the requests running at that moment (as sent in X-Request-Id and the access log).
// A SIGBUS inside a mapped model file means the file was truncated under the server: that is
// said in plain words and the process exits with status 3 instead of dying by the signal.
// Everything the handler touches is async-signal-safe (write(2), lock-free slots).
#include <string_view>

namespace ax::server {

// Lists a request as running for as long as it lives (lock-free; up to 256 at once are listed).
class RunningRequest {
 public:
  explicit RunningRequest(std::string_view id);
  ~RunningRequest();
  RunningRequest(const RunningRequest&) = delete;
  RunningRequest& operator=(const RunningRequest&) = delete;

 private:
  int slot_ = -1;
};

inline constexpr int kExitModelFileTruncated = 3;

void install_fatal_signal_handlers();

}  // namespace ax::server
