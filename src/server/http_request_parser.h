#pragma once
// Reads HTTP/1.x requests from bytes as they arrive, with limits, into HttpRequest: the part of
// the transport that untrusted bytes reach first, kept synchronous so a fuzzer drives it exactly
// as the connections do (fuzz/http_request_fuzz.cpp). Parsing is Boost.Beast's request parser;
// this adds the limits, the error statuses and the conversion.
//
// Limits: a request head (request line + headers) over max_header_bytes is a 431; a body over
// max_body_bytes is a 413 as soon as that is known: at the header when Content-Length says so,
// at the first chunk past the limit for a chunked body (nothing past the limit is buffered).
#include <cstddef>
#include <memory>
#include <string>

#include "server/http_message.h"

namespace ax::server {

struct RequestLimits {
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 8u << 20;
};

class RequestReader {
 public:
  enum class State { NeedMore, HeadDone, Done, Error };

  explicit RequestReader(const RequestLimits& limits);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // Takes bytes as they arrive. The state says what happened: HeadDone is reported once, when
  // the head is complete and the body still to come (the caller may answer an
  // "Expect: 100-continue" then), and feeding continues with the body. Bytes past the end of this
  // request (a pipelined next one) are kept: leftover().
  State feed(const char* data, size_t size);
  const std::string& leftover() const { return pending_; }
  State state() const { return state_; }
  bool head_done() const;
  // After Error: the status to answer with (400, 413, 431, 501) and a sentence saying why.
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }
  // The head asked for "Expect: 100-continue".
  bool expects_continue() const;
  // The request once Done (the reader is spent after).
  HttpRequest take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pending_;  // bytes not yet taken by the parser (an incomplete head, or the next request)
  State state_ = State::NeedMore;
  bool head_reported_ = false;
  int error_status_ = 0;
  std::string error_message_;
};

// "/v1/models/a%2Fb?x=1" -> "/v1/models/a/b": the path without the query, %XX decoded.
std::string decode_path(const std::string& target);

}  // namespace ax::server
