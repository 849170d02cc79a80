// libFuzzer target: the first code untrusted network bytes reach, the HTTP request reader
// (server/http_request_parser.h over Boost.Beast's parser), driven as the connections drive it:
// bytes in pieces of arbitrary sizes, requests one after another from the leftovers (pipelining),
// small limits so they are hit. Any input must give requests within the limits or an error
// status; a crash, sanitizer report, uncaught exception or runaway allocation is a bug.
// The first input byte chooses the piece size. Build and run with scripts/fuzz.sh http_request.
//
// fuzz-sources: src/server/http_request_parser.cpp
// Boost 1.74 (and 1.81) Beast asserts `n >= 5` in parse_chunk_header when a final chunk is
// followed by a malformed trailer, where its code then stays within the buffer and returns
// bad_field (checked under ASan with asserts off). Release builds (NDEBUG) never evaluate Boost
// asserts; so the fuzzer does not either, and ASan still catches any out-of-bounds access.
// fuzz-cxxflags: -DBOOST_DISABLE_ASSERTS
// fuzz-seeds: fuzz/seeds/http_request/get.bin fuzz/seeds/http_request/post.bin
// fuzz-seeds: fuzz/seeds/http_request/chunked.bin fuzz/seeds/http_request/pipelined.bin
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/http_request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  ax::server::RequestLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_body_bytes = 4096;
  for (int request = 0; request < 8 && !bytes.empty(); ++request) {
    ax::server::RequestReader reader(limits);
    auto state = ax::server::RequestReader::State::NeedMore;
    for (size_t i = 0; i < bytes.size();) {
      const size_t n = std::min(piece, bytes.size() - i);
      state = reader.feed(bytes.data() + i, n);
      i += n;
      if (state == ax::server::RequestReader::State::HeadDone) (void)reader.expects_continue();
      if (state == ax::server::RequestReader::State::Done || state == ax::server::RequestReader::State::Error) break;
    }
    if (state == ax::server::RequestReader::State::Error) {
      const int s = reader.error_status();
      if (s != 400 && s != 413 && s != 431) std::abort();
      return 0;
    }
    if (state != ax::server::RequestReader::State::Done) return 0;
    std::string rest = reader.leftover();
    ax::server::HttpRequest req = reader.take();
    if (req.body.size() > limits.max_body_bytes) std::abort();
    (void)req.header("content-type");
    (void)ax::server::decode_path(req.target);
    bytes = std::move(rest);
  }
  return 0;
}
