// Cost of constrained decoding per token: the token mask (server/token_mask.h) computed at every
// step of a real document, with a real vocabulary. The document is tokenized with the model's own
// tokenizer and replayed token by token: mask, check the token is allowed, advance; the time per
// mask is what each generated token pays on top of the forward pass.
//
//   build/constrained_bench --tokenizer ../shared/models/qwen3-tokenizer [--rows 40] [--runs 3]
//   build/constrained_bench --tokenizer models/ax-code-15m
//
// Schemas: "rows" (an array of records with integer bounds, a pattern, a format, a bounded and a
// free string: what response_format users send) and "object" ({"type": "json_object"} over the
// same document).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "format/gguf.h"
#include "server/json_schema.h"
#include "server/token_mask.h"
#include "tokenizer/tokenizer.h"

using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

const char* kRowsSchema = R"({"type": "object", "required": ["rows"], "properties": {"rows": {
  "type": "array", "items": {"type": "object",
  "properties": {"id": {"type": "integer", "minimum": 0, "maximum": 100000},
                 "name": {"type": "string", "maxLength": 24},
                 "note": {"type": "string"},
                 "code": {"type": "string", "pattern": "^[a-z]{2}[0-9]{3}$"},
                 "when": {"type": "string", "format": "date"}},
  "required": ["id", "name", "note", "code", "when"]}}}})";

std::string document(int rows) {
  const char* names[] = {"alpha widget", "Beta", "gamma ray gun", "delta", "épsilon", "zeta function"};
  const char* notes[] = {"shipped on time, no damage", "late: the truck broke down near the border", "ok",
                         "customer asked for a \"gift wrap\" and a card"};
  std::string doc = "{\"rows\": [";
  for (int i = 0; i < rows; ++i) {
    if (i) doc += ", ";
    doc += json{{"id", i * 37 % 100000}, {"name", names[i % 6]}, {"note", notes[i % 4]},
                {"code", std::string("ab") + std::to_string(100 + i % 900)},
                {"when", "2024-0" + std::to_string(1 + i % 9) + "-1" + std::to_string(i % 10)}}
               .dump();
  }
  return doc + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("token-mask cost per generated token");
  std::string tokenizer_path;
  int rows = 40, runs = 3;
  app.add_option("--tokenizer", tokenizer_path, "HF folder with tokenizer.json, or a .gguf")->required();
  app.add_option("--rows", rows, "records in the document");
  app.add_option("--runs", runs, "replays per schema (the first warms the format cache)");
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<ax::Tokenizer> tok;
  if (std::filesystem::is_directory(tokenizer_path)) tok = ax::load_tokenizer_hf(tokenizer_path);
  else tok = ax::load_tokenizer(*ax::GgufFile::open(tokenizer_path));
  const auto trie = ax::server::TokenTrie::from_tokenizer(*tok);
  const std::string doc = document(rows);
  const std::vector<int32_t> ids = tok->encode(doc, /*add_special=*/false, /*parse_special=*/false);
  const int32_t eos = tok->eos_id();
  std::printf("vocabulary %d tokens, document %zu bytes = %zu tokens\n", tok->vocab_size(), doc.size(), ids.size());

  for (const char* name : {"rows", "object"}) {
    std::vector<double> us;
    for (int run = 0; run < runs; ++run) {
      auto schema = std::make_shared<ax::server::CompiledSchema>(
          std::string(name) == "rows" ? ax::server::compile_json_schema(json::parse(kRowsSchema), "schema")
                                      : ax::server::any_json_object_schema());
      ax::server::JsonConstraint c(schema, trie, {eos});
      std::vector<float> logits(tok->vocab_size());
      std::vector<double> this_run;
      for (int32_t id : ids) {
        std::fill(logits.begin(), logits.end(), 0.0f);
        auto t0 = Clock::now();
        c.mask_logits(logits.data(), static_cast<int64_t>(logits.size()));
        this_run.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (logits[id] != 0.0f || !c.advance(id)) {
          std::fprintf(stderr, "token %d ('%s') refused\n", id, tok->token_bytes(id).c_str());
          return 1;
        }
      }
      if (run > 0 || runs == 1) us.insert(us.end(), this_run.begin(), this_run.end());
    }
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double x : us) sum += x;
    std::printf("%-7s mask per token: mean %8.1f us, median %8.1f us, p90 %8.1f us, max %8.1f us\n", name,
                sum / us.size(), us[us.size() / 2], us[us.size() * 9 / 10], us.back());
  }
  return 0;
}
