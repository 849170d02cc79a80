#include "server/http_transport.h"

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/status.hpp>
#include <cstdio>
#include <ctime>
#include <future>
#include <mutex>
#include <set>

#include <fmt/core.h>

#include "server/worker_pool.h"
#include "util/error.h"

namespace ax::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string reason(int status) {
  auto r = boost::beast::http::obsolete_reason(boost::beast::http::int_to_status(static_cast<unsigned>(status)));
  return r.empty() ? std::string("Unknown") : std::string(r);
}

// Status line and headers. body_size < 0: a chunked body follows.
std::string response_head(const HttpResponse& res, int64_t body_size, bool keep_alive, const std::string& request_id) {
  std::string h = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\n", res.status, reason(res.status), res.content_type);
  if (body_size < 0) h += "Transfer-Encoding: chunked\r\n";
  else h += fmt::format("Content-Length: {}\r\n", body_size);
  for (const auto& [k, v] : res.headers) h += k + ": " + v + "\r\n";
  if (!request_id.empty()) h += "X-Request-Id: " + request_id + "\r\n";
  h += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return h;
}

std::string chunk(std::string_view data) { return fmt::format("{:x}\r\n", data.size()) + std::string(data) + "\r\n"; }

}  // namespace

class Session;

struct HttpTransport::Impl {
  Impl(TransportOptions o, std::function<Dispatch(HttpRequest&)> r,
       std::function<void(int, const std::string&, HttpResponse&)> e)
      : options(std::move(o)), route(std::move(r)), error_response(std::move(e)), acceptor(io),
        work(asio::make_work_guard(io)), workers(options.max_workers, std::chrono::seconds(30)) {}

  void accept();
  void forget(Session* s);
  std::string next_request_id() { return fmt::format("{:08x}-{}", start_tag, ++request_counter); }

  TransportOptions options;
  std::function<Dispatch(HttpRequest&)> route;
  std::function<void(int, const std::string&, HttpResponse&)> error_response;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  WorkerPool workers;
  int port = 0;
  std::set<std::shared_ptr<Session>> sessions;  // I/O thread only
  std::atomic<size_t> open{0};
  std::atomic<bool> stopping{false};
  const uint32_t start_tag = static_cast<uint32_t>(std::time(nullptr));
  std::atomic<uint64_t> request_counter{0};
};

// One connection: reads requests one after another, runs each, writes its response.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpTransport::Impl& server, tcp::socket socket)
      : server_(server), socket_(std::move(socket)), timer_(server.io) {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    remote_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void start() { next_request(); }
  bool busy() const { return busy_; }

  // Closes the socket; pending operations end with errors. The session is forgotten once no
  // handler holds it (a worker's handler ends first, then the I/O thread forgets it).
  void close() {
    if (!closed_) {
      closed_ = true;
      gone_->store(true);
      timer_.cancel();
      boost::system::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.close(ec);
    }
    if (!busy_ && !forgotten_) {
      forgotten_ = true;
      server_.forget(this);
    }
  }

  // From a worker: writes bytes and waits until they are taken (false: gone, or the deadline).
  bool write_from_worker(std::string bytes) {
    auto done = std::make_shared<std::promise<bool>>();
    std::future<bool> result = done->get_future();
    asio::post(server_.io, [self = shared_from_this(), bytes = std::move(bytes), done]() mutable {
      if (self->closed_) {
        done->set_value(false);
        return;
      }
      self->write_with_deadline(std::move(bytes), [done](bool ok) { done->set_value(ok); });
    });
    return result.get();
  }

 private:
  class Writer : public StreamWriter {
   public:
    explicit Writer(std::shared_ptr<Session> s) : s_(std::move(s)) {}
    // The status line and headers of the chunked response.
    void start(const HttpResponse& res, const HttpRequest& req) {
      ok_ = s_->write_from_worker(response_head(res, -1, req.keep_alive, req.request_id));
    }
    bool write(std::string_view data) override {
      if (data.empty()) return !s_->gone_->load();
      ok_ = ok_ && s_->write_from_worker(chunk(data));
      return ok_;
    }
    bool ok() const { return ok_; }

   private:
    std::shared_ptr<Session> s_;
    bool ok_ = true;
  };

  void arm(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close();  // the deadline passed: a slow or silent client is let go
    });
  }

  void next_request() {
    if (closed_ || server_.stopping) return close();
    reader_ = std::make_unique<RequestReader>(server_.options.limits);
    arm(server_.options.head_timeout);
    if (!carry_.empty()) {
      std::string bytes = std::move(carry_);
      carry_.clear();
      return on_bytes(bytes.data(), bytes.size());
    }
    read_more();
  }

  void read_more() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
      if (ec) return self->close();
      self->on_bytes(self->buf_.data(), n);
    });
  }

  void on_bytes(const char* data, size_t n) {
    switch (reader_->feed(data, n)) {
      case RequestReader::State::NeedMore:
        return read_more();
      case RequestReader::State::HeadDone:
        arm(server_.options.body_timeout);
        if (reader_->expects_continue())
          return write_with_deadline("HTTP/1.1 100 Continue\r\n\r\n", [self = shared_from_this()](bool ok) {
            if (ok) self->read_more();
          });
        return read_more();
      case RequestReader::State::Error: {
        HttpResponse res;
        server_.error_response(reader_->error_status(), reader_->error_message(), res);
        HttpRequest req;  // for the access log
        req.remote = remote_;
        req.keep_alive = false;
        return respond(std::move(req), std::move(res), Clock::now());
      }
      case RequestReader::State::Done:
        timer_.cancel();
        carry_ = reader_->leftover();
        return dispatch(reader_->take());
    }
  }

  void dispatch(HttpRequest req) {
    const auto t0 = Clock::now();
    req.remote = remote_;
    req.request_id = server_.next_request_id();
    Dispatch d = server_.route(req);
    if (d.on_io_thread) {
      HttpResponse res;
      run_handler(d.handler, req, res);
      return respond(std::move(req), std::move(res), t0);
    }
    // A worker runs it; meanwhile the connection is watched for the client hanging up.
    busy_ = true;
    gone_ = std::make_shared<std::atomic<bool>>(false);
    req.gone = gone_;
    watch();
    server_.workers.submit([self = shared_from_this(), req = std::move(req), handler = std::move(d.handler), t0]() mutable {
      HttpResponse res;
      std::shared_ptr<Writer> writer;
      res.stream_starter = [&](HttpResponse& r) -> StreamWriter* {
        writer = std::make_shared<Writer>(self);
        writer->start(r, req);
        return writer.get();
      };
      run_handler(handler, req, res);
      asio::post(self->server_.io, [self, req = std::move(req), res = std::move(res), writer, t0]() mutable {
        self->busy_ = false;
        self->stop_watching();
        if (self->closed_) {
          self->log(req, res.status, 0, t0);
          return self->close();
        }
        if (writer) self->end_stream(std::move(req), res, writer->ok(), t0);
        else self->respond(std::move(req), std::move(res), t0);
      });
    });
  }

  static void run_handler(const std::function<void(HttpRequest&, HttpResponse&)>& handler, HttpRequest& req,
                          HttpResponse& res) {
    try {
      handler(req, res);
    } catch (const std::exception& e) {
      // The router wraps routes with their own error mapping; this is the last line.
      res = HttpResponse{};
      res.status = 500;
      res.set_content(fmt::format(R"({{"error":{{"message":"internal error","type":"server_error"}}}})"), "application/json");
    }
  }

  // Reads while a handler runs: EOF or an error means the client is gone; bytes are a pipelined
  // next request, kept (up to the head limit) for later.
  void watch() {
    watching_ = true;
    watch_pending_ = true;
    socket_.async_read_some(asio::buffer(watch_buf_), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
      self->watch_pending_ = false;
      if (!self->watching_) {
        if (!ec && n > 0) self->carry_.append(self->watch_buf_.data(), n);
        return;
      }
      if (ec) {
        self->gone_->store(true);
        return;
      }
      self->carry_.append(self->watch_buf_.data(), n);
      if (self->carry_.size() < self->server_.options.limits.max_header_bytes) self->watch();
    });
  }

  // The handler is done: its watch read is cancelled (its bytes, if any came, are kept) so the
  // next read of the connection is the only one.
  void stop_watching() {
    watching_ = false;
    if (watch_pending_) {
      boost::system::error_code ec;
      socket_.cancel(ec);
    }
  }

  void respond(HttpRequest req, HttpResponse res, Clock::time_point t0) {
    const bool keep = req.keep_alive && !server_.stopping && !gone_->load();
    std::string bytes = response_head(res, static_cast<int64_t>(res.body.size()), keep, req.request_id) + res.body;
    const size_t size = res.body.size();
    write_with_deadline(std::move(bytes), [self = shared_from_this(), req = std::move(req), status = res.status, size, keep, t0](bool ok) {
      self->log(req, status, size, t0);
      if (ok && keep) self->next_request();
      else self->close();
    });
  }

  void end_stream(HttpRequest req, const HttpResponse& res, bool ok, Clock::time_point t0) {
    const bool keep = ok && req.keep_alive && !server_.stopping && !gone_->load();
    if (!ok || closed_) {
      log(req, res.status, 0, t0);
      return close();
    }
    write_with_deadline("0\r\n\r\n", [self = shared_from_this(), req = std::move(req), status = res.status, keep, t0](bool done) {
      self->log(req, status, 0, t0);
      if (done && keep) self->next_request();
      else self->close();
    });
  }

 public:
  void write_with_deadline(std::string bytes, std::function<void(bool)> then) {
    auto data = std::make_shared<std::string>(std::move(bytes));
    auto deadline = std::make_shared<asio::steady_timer>(server_.io);
    deadline->expires_after(server_.options.write_timeout);
    deadline->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close();  // the client took nothing for write_timeout
    });
    asio::async_write(socket_, asio::buffer(*data),
                      [self = shared_from_this(), data, deadline, then = std::move(then)](const boost::system::error_code& ec, size_t) {
                        deadline->cancel();
                        then(!ec);
                      });
  }

 private:
  void log(const HttpRequest& req, int status, size_t bytes, Clock::time_point t0) {
    if (!server_.options.access_log) return;
    char when[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::fprintf(stderr, "%s %s \"%s %s\" %d %zu %.1fms id=%s\n", when, req.remote.c_str(), req.method.c_str(),
                 req.target.c_str(), status, bytes, ms, req.request_id.empty() ? "-" : req.request_id.c_str());
  }

  friend class Writer;
  friend struct HttpTransport::Impl;

  HttpTransport::Impl& server_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::string remote_;
  std::array<char, 16384> buf_{};
  std::array<char, 4096> watch_buf_{};
  std::unique_ptr<RequestReader> reader_;
  std::string carry_;  // bytes of the next request, read early
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  bool busy_ = false, watching_ = false, watch_pending_ = false, closed_ = false, forgotten_ = false;
};

void HttpTransport::Impl::accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;  // stop_accepting
      return accept();  // e.g. out of fds for a moment: keep accepting
    }
    if (sessions.size() >= options.max_connections) {
      // Over the cap: a short answer and close, so the client knows (rather than a hang).
      auto s = std::make_shared<Session>(*this, std::move(socket));
      HttpResponse res;
      error_response(503, fmt::format("The server has {} connections open, its limit; retry later.", options.max_connections), res);
      res.set_header("Retry-After", "1");
      auto bytes = std::make_shared<std::string>(response_head(res, static_cast<int64_t>(res.body.size()), false, "") + res.body);
      sessions.insert(s);
      ++open;
      s->write_with_deadline(std::move(*bytes), [s](bool) { s->close(); });
      return accept();
    }
    socket.set_option(tcp::no_delay(true));
    auto s = std::make_shared<Session>(*this, std::move(socket));
    sessions.insert(s);
    ++open;
    s->start();
    accept();
  });
}

void HttpTransport::Impl::forget(Session* s) {
  for (auto it = sessions.begin(); it != sessions.end(); ++it)
    if (it->get() == s) {
      // Destroyed after this handler: other handlers may still hold it.
      asio::post(io, [keep = *it] {});
      sessions.erase(it);
      --open;
      return;
    }
}

HttpTransport::HttpTransport(TransportOptions options, std::function<Dispatch(HttpRequest&)> route,
                             std::function<void(int, const std::string&, HttpResponse&)> error_response)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(route), std::move(error_response))) {}

HttpTransport::~HttpTransport() = default;

void HttpTransport::bind() {
  Impl& s = *impl_;
  const TransportOptions& o = s.options;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(o.host, ec);
  if (ec) fail("--host {}: not an IP address ({})", o.host, ec.message());
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(o.port));
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);  // never SO_REUSEPORT
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(o.backlog, ec);
  if (ec) fail("--host {} --port {}: cannot bind ({})", o.host, o.port, ec.message());
  s.port = s.acceptor.local_endpoint().port();
}

int HttpTransport::port() const { return impl_->port; }

void HttpTransport::run() {
  impl_->accept();
  impl_->io.run();
}

void HttpTransport::stop_accepting() {
  asio::post(impl_->io, [this] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
  });
}

void HttpTransport::stop() {
  Impl& s = *impl_;
  s.stopping = true;  // no connection starts another request
  // Idle connections close now; running handlers get a moment to end their responses (after a
  // shutdown cancels their requests, a stream still writes its error event and [DONE]), then
  // whatever is left is closed under them.
  auto close_sessions = [&](bool busy_too) {
    std::promise<void> closed;
    asio::post(s.io, [&] {
      boost::system::error_code ec;
      s.acceptor.close(ec);
      // Copy: close() may remove sessions from the set.
      std::vector<std::shared_ptr<Session>> all(s.sessions.begin(), s.sessions.end());
      for (auto& session : all)
        if (busy_too || !session->busy()) session->close();
      closed.set_value();
    });
    closed.get_future().wait();
  };
  close_sessions(false);
  if (!s.workers.drain_for(std::chrono::seconds(2))) close_sessions(true);
  s.workers.drain();
  close_sessions(true);
  s.work.reset();  // run() returns once the last handlers have run
}

size_t HttpTransport::open_connections() const { return impl_->open.load(); }

size_t HttpTransport::worker_threads() const { return impl_->workers.threads(); }

}  // namespace ax::server
