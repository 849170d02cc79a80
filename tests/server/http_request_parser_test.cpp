// Requests read from bytes as they arrive: any split gives the same request, limits hold for
// chunked bodies too, errors carry the right status, pipelined bytes are kept.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "server/http_request_parser.h"

namespace ax::server {
namespace {

// Feeds text in random pieces; the final state.
RequestReader::State feed_split(RequestReader& r, const std::string& text, std::mt19937& rng) {
  RequestReader::State st = RequestReader::State::NeedMore;
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min<size_t>(text.size() - i, 1 + rng() % 7);
    st = r.feed(text.data() + i, n);
    i += n;
    if (st == RequestReader::State::Error) break;
  }
  return st;
}

TEST(HttpRequestParser, AnySplitGivesTheSameRequest) {
  std::mt19937 rng(std::random_device{}());
  const std::string chunked =
      "POST /v1/models/a%2Fb?x=1 HTTP/1.1\r\nHost: h\r\nX-Thing: One\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET /next HTTP/1.1\r\n";
  for (int trial = 0; trial < 50; ++trial) {
    RequestReader r(RequestLimits{});
    ASSERT_EQ(feed_split(r, chunked, rng), RequestReader::State::Done);
    EXPECT_EQ(r.leftover(), "GET /next HTTP/1.1\r\n");  // the next request's first bytes
    HttpRequest req = r.take();
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.path, "/v1/models/a/b");
    EXPECT_EQ(req.target, "/v1/models/a%2Fb?x=1");
    EXPECT_EQ(req.body, "hello world");
    EXPECT_EQ(req.header("x-thing"), "One");
    EXPECT_EQ(req.header("X-THING"), "One");
    EXPECT_TRUE(req.keep_alive);
  }
}

TEST(HttpRequestParser, LimitsHoldForChunkedBodies) {
  RequestLimits limits;
  limits.max_body_bytes = 1000;
  // A chunked body is refused at the first chunk past the limit, not after reading it all.
  RequestReader r(limits);
  std::string head = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(r.feed(head.data(), head.size()), RequestReader::State::HeadDone);
  std::string piece = "200\r\n" + std::string(512, 'a') + "\r\n";
  EXPECT_EQ(r.feed(piece.data(), piece.size()), RequestReader::State::NeedMore);
  EXPECT_EQ(r.feed(piece.data(), piece.size()), RequestReader::State::Error);
  EXPECT_EQ(r.error_status(), 413);
  // With Content-Length, at the head.
  RequestReader c(limits);
  std::string big = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n";
  EXPECT_EQ(c.feed(big.data(), big.size()), RequestReader::State::Error);
  EXPECT_EQ(c.error_status(), 413);
  // A head larger than its limit.
  limits.max_header_bytes = 256;
  RequestReader h(limits);
  std::string huge = "GET /x HTTP/1.1\r\nX-Big: " + std::string(1000, 'b');
  EXPECT_EQ(h.feed(huge.data(), huge.size()), RequestReader::State::Error);
  EXPECT_EQ(h.error_status(), 431);
}

TEST(HttpRequestParser, MalformedRequestsAre400AndExpectContinueIsSeen) {
  for (const char* bad : {"GARBAGE\r\n\r\n", "GET /x HTTP/9.9\r\n\r\n", "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
                          "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                          "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    RequestReader r(RequestLimits{});
    EXPECT_EQ(r.feed(bad, std::strlen(bad)), RequestReader::State::Error) << bad;
    EXPECT_EQ(r.error_status(), 400) << bad;
  }
  RequestReader r(RequestLimits{});
  std::string head = "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n";
  EXPECT_EQ(r.feed(head.data(), head.size()), RequestReader::State::HeadDone);
  EXPECT_TRUE(r.expects_continue());
  EXPECT_EQ(r.feed("ok", 2), RequestReader::State::Done);
  EXPECT_EQ(r.take().body, "ok");
}

}  // namespace
}  // namespace ax::server
