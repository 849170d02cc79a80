#pragma once
// The sockets: an event-driven HTTP/1.1 server on Boost.Asio. One I/O thread reads every
// connection (no thread per connection, idle or slow), with deadlines on each request's head and
// body, a cap on connections, a real listen backlog and size limits that hold for chunked bodies
// too (http_request_parser.h). Complete requests go to a router on the I/O thread, which either
// answers at once (health, metrics, errors: never queued behind generation) or hands the handler
// to a WorkerPool thread; streamed bodies are written chunk by chunk with a write deadline. While
// a handler runs, the connection is still watched, so a client that hangs up is seen even when
// the handler writes nothing (HttpRequest::client_gone).
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "server/http_message.h"
#include "server/http_request_parser.h"

namespace ax::server {

struct TransportOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  RequestLimits limits;
  size_t max_connections = 1024;  // more are answered 503 and closed at once
  int backlog = 1024;             // connections the kernel queues before accept
  // A request's head must arrive within head_timeout of the connection being ready for it (also
  // how long an idle keep-alive connection stays open); its body within body_timeout after.
  std::chrono::milliseconds head_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  // A client that takes no bytes of a response for this long is dropped.
  std::chrono::milliseconds write_timeout{30000};
  size_t max_workers = 64;  // route handler threads at most
  bool access_log = false;  // one line per request on stderr
};

// How the transport runs one request.
struct Dispatch {
  bool on_io_thread = false;  // quick and non-blocking: answered without a worker
  std::function<void(HttpRequest&, HttpResponse&)> handler;
};

class HttpTransport {
 public:
  // route: called on the I/O thread for every complete request. error_response: the body of the
  // errors the transport answers itself (400 malformed, 413, 431, 503 too many connections).
  HttpTransport(TransportOptions options, std::function<Dispatch(HttpRequest&)> route,
                std::function<void(int status, const std::string& message, HttpResponse& res)> error_response);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Binds host:port (SO_REUSEADDR, never SO_REUSEPORT); throws ax::Error naming the address.
  void bind();
  int port() const;
  // Serves on the calling thread until stop(); returns once every connection and handler ended.
  void run();
  // Stops accepting new connections (shutdown begins); open ones are served on.
  void stop_accepting();
  // Closes every connection, waits for running handlers, and makes run() return.
  void stop();

  size_t open_connections() const;
  size_t worker_threads() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ax::server
