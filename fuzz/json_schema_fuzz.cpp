// libFuzzer target: constrained decoding's untrusted input, a client's JSON schema, through the
// compiler (server/json_schema.h: keywords, $ref, allOf, patterns and formats to automata) and the
// automaton that enforces it (server/json_automaton.h), plus a token-mask walk. The input is a
// schema (JSON text), optionally followed by a NUL byte and document bytes fed to the automaton.
// Any schema must compile or end in an ApiError (a 400); anything the automaton takes as a
// complete document must parse as JSON. A crash, sanitizer report, uncaught exception, hang or
// runaway allocation is a bug. Build and run with scripts/fuzz.sh json_schema.
//
// fuzz-sources: src/server/json_schema.cpp src/server/schema_intersect.cpp src/server/schema_finish.cpp
// fuzz-sources: src/server/json_automaton.cpp src/server/numeric_range.cpp src/server/regex.cpp
// fuzz-sources: src/server/byte_dfa.cpp src/server/string_formats.cpp src/server/api_error.cpp
// fuzz-sources: src/server/token_mask.cpp
// fuzz-seeds: fuzz/seeds/json_schema/person.bin fuzz/seeds/json_schema/formats.bin
// fuzz-seeds: fuzz/seeds/json_schema/record.bin fuzz/seeds/json_schema/allof.bin
// fuzz-seeds: fuzz/seeds/json_schema/tuple.bin
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/json_automaton.h"
#include "server/json_schema.h"
#include "server/token_mask.h"

namespace {

// A small vocabulary of JSON pieces plus every byte, so the mask walk has something to find.
const std::shared_ptr<const ax::server::TokenTrie>& trie() {
  static const auto t = [] {
    std::vector<std::string> vocab;
    for (int b = 0; b < 256; ++b) vocab.push_back(std::string(1, static_cast<char>(b)));
    for (const char* piece : {"{\"", "\":", "\",\"", "true", "false", "null", "\"a\"", "12", "-0.5", "é", "\\u00e9", "]}", " \n"})
      vocab.push_back(piece);
    return std::make_shared<ax::server::TokenTrie>(vocab, std::vector<bool>(vocab.size()));
  }();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  std::string_view schema_text = input.substr(0, nul);
  std::string_view doc = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  nlohmann::json schema = nlohmann::json::parse(schema_text, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) return 0;
  auto compiled = std::make_shared<ax::server::CompiledSchema>();
  try {
    *compiled = ax::server::compile_json_schema(schema, "schema");
  } catch (const ax::server::ApiError&) {
    return 0;
  }
  ax::server::JsonAutomaton a(*compiled);
  size_t taken = 0;
  for (; taken < doc.size() && taken < 4096; ++taken) {
    if (!a.feed(static_cast<uint8_t>(doc[taken]))) break;
    (void)a.state_key();
    (void)a.free_string_room();
  }
  if (a.can_end() && taken > 0) {
    // What the automaton calls a whole document is JSON.
    if (nlohmann::json::parse(doc.substr(0, taken), nullptr, false).is_discarded()) std::abort();
  }
  (void)a.must_end();
  // A few masks along the way, as generation computes them.
  ax::server::JsonConstraint c(compiled, trie(), {0});
  std::vector<float> logits(trie()->vocab_size());
  for (size_t i = 0; i < std::min<size_t>(taken, 8); ++i) {
    c.mask_logits(logits.data(), static_cast<int64_t>(logits.size()));
    c.advance(static_cast<uint8_t>(doc[i]));
  }
  return 0;
}
