#pragma once
// An HTTP request as the routes see it, and the response they write: plain data, independent of
// the transport (http_transport.h) that reads and writes the sockets.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ax::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // the target without its query, percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  bool keep_alive = true;
  std::string remote;      // the peer's address, for the access log
  std::string request_id;  // unique per request; the X-Request-Id response header
  std::vector<std::string> path_params;  // what a route pattern's (...) groups matched
  // Set by the transport when the client closes its connection while the request runs.
  std::shared_ptr<const std::atomic<bool>> gone = std::make_shared<std::atomic<bool>>(false);

  // A header's value ("" when absent); name in any case.
  std::string header(std::string_view name) const;
  bool client_gone() const { return gone->load(std::memory_order_relaxed); }
};

// A streamed body (server-sent events): what a route writes while the request runs.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Sends data at once (one chunk). Blocks until the client has taken it; false when the client
  // is gone or did not take it within the write timeout (the stream is then over).
  virtual bool write(std::string_view data) = 0;
};

class HttpResponse {
 public:
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  void set_header(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
  void set_content(std::string content, std::string type) {
    body = std::move(content);
    content_type = std::move(type);
  }

  // Sends status 200, the headers so far and content_type now, and returns the writer of a
  // chunked body; the response ends when the route returns. Only on worker threads (the route
  // blocks while the client reads). nullptr where the transport cannot stream (tests).
  StreamWriter* start_stream(std::string type);
  bool streaming() const { return streaming_; }

  // Set by the transport: how start_stream reaches the connection.
  std::function<StreamWriter*(HttpResponse&)> stream_starter;

 private:
  bool streaming_ = false;
};

inline StreamWriter* HttpResponse::start_stream(std::string type) {
  if (!stream_starter) return nullptr;
  content_type = std::move(type);
  streaming_ = true;
  return stream_starter(*this);
}

}  // namespace ax::server
