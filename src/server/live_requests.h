#pragma once
// The generation requests the server is running, for GET /requests (the web console's table):
// which route, since when, prompt tokens, tokens generated so far. A ChoiceGroup registers its
// request for as long as it lives and counts its tokens; the HTTP layer names the request (its
// X-Request-Id and route) for the worker thread that runs it (RequestName).
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ax::server {

class LiveRequests {
 public:
  struct Entry {
    std::string id;     // X-Request-Id ("" outside an HTTP request)
    std::string route;  // "/v1/chat/completions"
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point first_token{};  // epoch: none yet
    int choices = 1;
    int64_t prompt_tokens = 0;      // over all choices
    int64_t completion_tokens = 0;  // so far, over all choices
  };

  // Registers a request on the calling thread (named by its RequestName); returns its key.
  uint64_t add(int choices, int64_t prompt_tokens);
  void add_tokens(uint64_t key, int64_t n);
  void remove(uint64_t key);

  // The running requests, oldest first.
  std::vector<Entry> snapshot() const;

 private:
  mutable std::mutex mu_;
  uint64_t next_ = 0;
  std::map<uint64_t, Entry> entries_;
};

// Names the requests registered on this thread while it lives (the HTTP layer's worker).
class RequestName {
 public:
  RequestName(std::string id, std::string route);
  ~RequestName();
  RequestName(const RequestName&) = delete;
  RequestName& operator=(const RequestName&) = delete;
};

}  // namespace ax::server
