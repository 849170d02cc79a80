// Manifest parsing and validation (bench/manifest.h): a full manifest round-trips through
// resolved(); every kind of mistake is refused with an error naming the file and the field;
// variants and matrices expand as documented; the checked-in JSON Schema lists exactly the fields
// the parser accepts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "bench/manifest.h"
#include "test_support.h"

namespace ax::bench {
namespace {

using nlohmann::json;

json scenario() {
  return json::parse(R"({
    "schema": "ax.bench.manifest.v1",
    "id": "chat-1",
    "description": "a test",
    "model": {"path": "models/m.gguf"},
    "runtime": {"threads": 2, "kv_type": "f32", "kv_pool_mb": 64, "max_batch_tokens": 256, "max_num_seqs": 8,
                "prefix_cache": false, "speculation": {"mode": "off", "max_draft": 4}},
    "sampling": {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.05, "repetition_penalty": 1.1, "seed": 9},
    "prompts": {"system": {"text": "You are terse.", "repeat": 3}},
    "shape": {"requests": 32, "concurrency": 4, "input_tokens": {"min": 100, "max": 200}, "output_tokens": 50,
              "shared_prefix_fraction": 0.5, "prefix_groups": 2, "source": "system", "seed": 3,
              "arrival": {"process": "poisson", "rate_per_s": 2.5}},
    "checks": {"expect_deterministic": true, "require_prefix_reuse": {"min_hit_rate": 0.3},
               "thresholds": ["decode_tok_s >= 20", "ttft_p95_ms <= 500"]},
    "variants": {"small": {"shape": {"requests": 4, "arrival": null}, "model": {"path": "models/tiny.gguf"}}}
  })");
}

json replay() {
  return json::parse(R"({
    "schema": "ax.bench.manifest.v1",
    "id": "cancel-1",
    "model": {"path": "/abs/m.gguf"},
    "prompts": {"long": {"text": "many words"}, "sys": {"tokens": [5, 6, 7]}},
    "replay": {"events": [
      {"t_ms": 5, "op": "cancel", "request_id": "a"},
      {"t_ms": 0, "op": "submit", "request_id": "a", "prompt": "long", "output_tokens": 8},
      {"t_ms": 1, "op": "submit", "request_id": "b", "tokens": [1, 2, 3], "prefix_group": "sys"}
    ]}
  })");
}

// The message of the ManifestError that parsing doc throws ("" if none).
std::string error_of(const json& doc, const std::string& variant = "") {
  try {
    parse_manifest(doc, "m.json", "/base", variant);
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "";
}

TEST(Manifest, ParsesEveryFieldAndResolvesPaths) {
  const Manifest m = parse_manifest(scenario(), "m.json", "/base");
  EXPECT_EQ(m.id, "chat-1");
  EXPECT_EQ(m.model.path, "/base/models/m.gguf");
  EXPECT_EQ(m.runtime.threads, 2);
  EXPECT_EQ(m.runtime.kv_type, "f32");
  EXPECT_FALSE(m.runtime.prefix_cache);
  EXPECT_FALSE(m.runtime.speculation);
  EXPECT_EQ(m.runtime.max_draft, 4);
  EXPECT_DOUBLE_EQ(m.sampling.temperature, 0.7);
  EXPECT_EQ(m.sampling.seed, 9u);
  EXPECT_EQ(m.prompts.at("system").repeat, 3);
  ASSERT_TRUE(m.shape);
  EXPECT_EQ(m.shape->input_tokens.min, 100);
  EXPECT_EQ(m.shape->input_tokens.max, 200);
  EXPECT_TRUE(m.shape->output_tokens.fixed());
  EXPECT_EQ(m.shape->arrival, Arrival::Poisson);
  EXPECT_DOUBLE_EQ(m.shape->rate_per_s, 2.5);
  EXPECT_TRUE(m.checks.require_prefix_reuse);
  EXPECT_DOUBLE_EQ(m.checks.min_prefix_hit_rate, 0.3);
  ASSERT_EQ(m.checks.thresholds.size(), 2u);
  EXPECT_EQ(m.checks.thresholds[1].metric, "ttft_p95_ms");
  EXPECT_EQ(m.checks.thresholds[1].op, CompareOp::Le);
  EXPECT_DOUBLE_EQ(m.checks.thresholds[1].value, 500);
}

TEST(Manifest, ResolvedFormParsesBackToItself) {
  for (const json& doc : {scenario(), replay()}) {
    const json r = parse_manifest(doc, "m.json", "/base").resolved();
    EXPECT_EQ(parse_manifest(r, "manifest.json", "/elsewhere").resolved(), r) << r.dump(2);
  }
}

TEST(Manifest, ReplayEventsAreSortedByTimeAndValidated) {
  const Manifest m = parse_manifest(replay(), "m.json", "");
  ASSERT_EQ(m.events.size(), 3u);
  EXPECT_EQ(m.events[0].request_id, "a");
  EXPECT_EQ(m.events[0].op, EventOp::Submit);
  EXPECT_EQ(m.events[2].op, EventOp::Cancel);
  EXPECT_EQ(m.events[1].tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(m.events[1].prefix_group, "sys");
}

TEST(Manifest, MistakesAreRefusedNamingTheField) {
  struct Case {
    std::function<void(json&)> edit;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {[](json& d) { d["concurency"] = 4; }, "unknown field concurency"},
      {[](json& d) { d["shape"]["concurency"] = 4; }, "unknown field shape.concurency"},
      {[](json& d) { d["schema"] = "v0"; }, "schema must be \"ax.bench.manifest.v1\""},
      {[](json& d) { d.erase("id"); }, "id is required"},
      {[](json& d) { d["id"] = "a b"; }, "id must be letters"},
      {[](json& d) { d.erase("model"); }, "model is required"},
      {[](json& d) { d["model"].erase("path"); }, "model.path is required"},
      {[](json& d) { d["model"]["sha256"] = "abc"; }, "model.sha256 must be 64 lowercase hex digits"},
      {[](json& d) { d["runtime"]["threads"] = "four"; }, "runtime.threads must be an integer in [0, 4096] (got \"four\")"},
      {[](json& d) { d["runtime"]["threads"] = -1; }, "runtime.threads must be an integer in [0, 4096]"},
      {[](json& d) { d["runtime"]["kv_type"] = "q8"; }, "runtime.kv_type must be one of \"f16\", \"f32\""},
      {[](json& d) { d["runtime"]["speculation"]["mode"] = "eagle"; }, "runtime.speculation.mode must be one of"},
      {[](json& d) { d["runtime"]["speculation"]["max_draft"] = 40; }, "runtime.speculation.max_draft must be an integer in [1, 31]"},
      {[](json& d) { d["sampling"]["temperature"] = 3; }, "sampling.temperature must be a number in [0, 2]"},
      {[](json& d) { d["sampling"]["top_p"] = 0; }, "sampling.top_p must be a number"},
      {[](json& d) { d["shape"].erase("requests"); }, "shape.requests is required"},
      {[](json& d) { d["shape"]["input_tokens"] = 0; }, "shape.input_tokens must be an integer >= 1"},
      {[](json& d) { d["shape"]["input_tokens"] = {{"min", 10}, {"max", 5}}; }, "shape.input_tokens must be"},
      {[](json& d) { d["shape"]["output_tokens"] = {{"min", 10}}; }, "shape.output_tokens must be"},
      {[](json& d) { d["shape"]["shared_prefix_fraction"] = 1.0; }, "shape.shared_prefix_fraction must be a number in [0, 0.99]"},
      {[](json& d) { d["shape"]["source"] = "nope"; }, "shape.source must be \"random\" or the name of an entry of prompts"},
      {[](json& d) { d["shape"]["arrival"] = {{"process", "poisson"}}; }, "shape.arrival.rate_per_s is required"},
      {[](json& d) { d["shape"]["arrival"] = {{"process", "burst"}}; }, "shape.arrival.process must be one of"},
      {[](json& d) { d["shape"]["arrival"] = {{"process", "closed"}}; d["shape"]["concurrency"] = 0; },
       "shape.concurrency must be an integer in [1,"},
      {[](json& d) { d["replay"] = {{"events", json::array()}}; }, "needs exactly one of \"shape\""},
      {[](json& d) { d.erase("shape"); }, "needs exactly one of \"shape\""},
      {[](json& d) { d["prompts"]["system"]["file"] = "x.txt"; }, "prompts.system must have exactly one of"},
      {[](json& d) { d["prompts"]["system"]["tokens"] = {1, -2}; d["prompts"]["system"].erase("text"); },
       "prompts.system.tokens[1] must be a token id"},
      {[](json& d) { d["prompts"]["system"] = {{"file", "does/not/exist.txt"}}; }, "prompts.system.file: cannot read /base/does/not/exist.txt"},
      {[](json& d) { d["checks"]["thresholds"] = {"decode_tok_s => 3"}; }, "checks.thresholds[0] must read \"metric >= number\""},
      {[](json& d) { d["checks"]["thresholds"] = {"speed >= 3"}; }, "checks.thresholds[0] names an unknown metric \"speed\""},
      {[](json& d) { d["checks"]["thresholds"] = {7}; }, "checks.thresholds[0] must be a string"},
      {[](json& d) { d["checks"]["require_prefix_reuse"] = "yes"; }, "checks.require_prefix_reuse must be true, false or"},
      {[](json& d) { d["variants"]["small"] = 3; }, ""},  // only an error when that variant is applied
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    json d = scenario();
    cases[i].edit(d);
    const std::string err = error_of(d);
    if (cases[i].expect.empty()) {
      EXPECT_EQ(err, "") << "case " << i;
      continue;
    }
    EXPECT_NE(err.find("manifest m.json: "), std::string::npos) << "case " << i << ": " << err;
    EXPECT_NE(err.find(cases[i].expect), std::string::npos) << "case " << i << ": " << err;
  }
}

TEST(Manifest, ReplayMistakesNameTheEvent) {
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& d) { d["replay"]["events"][0]["t_ms"] = -1; }, "replay.events[0].t_ms must be a number"},
      {[](json& d) { d["replay"]["events"][0]["op"] = "pause"; }, "replay.events[0].op must be one of \"submit\", \"cancel\""},
      {[](json& d) { d["replay"]["events"][0]["request_id"] = "zz"; },
       "replay.events[0].request_id must name a request submitted at or before t_ms 5 (got \"zz\")"},
      {[](json& d) { d["replay"]["events"][0]["t_ms"] = 0; }, "replay.events[0].request_id must name a request submitted"},
      {[](json& d) { d["replay"]["events"][2]["request_id"] = "a"; }, "replay.events[2].request_id must be unique among submits"},
      {[](json& d) { d["replay"]["events"][1]["prompt"] = "none"; }, "replay.events[1].prompt must be the name of an entry of prompts"},
      {[](json& d) { d["replay"]["events"][1].erase("prompt"); }, "replay.events[1].op needs exactly one of \"prompt\" and \"tokens\""},
      {[](json& d) { d["replay"]["events"][2]["prefix_group"] = "x"; }, "replay.events[2].prefix_group must be the name of an entry of prompts"},
      {[](json& d) { d["replay"]["events"][2]["output_tokens"] = 0; }, "replay.events[2].output_tokens must be an integer in [1,"},
      {[](json& d) { d["replay"]["events"][2]["when"] = 1; }, "unknown field replay.events[2].when"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    json d = replay();
    cases[i].first(d);
    const std::string err = error_of(d);
    EXPECT_NE(err.find(cases[i].second), std::string::npos) << "case " << i << ": " << err;
  }
}

TEST(Manifest, VariantsAreMergePatches) {
  const Manifest m = parse_manifest(scenario(), "m.json", "/base", "small");
  EXPECT_EQ(m.variant, "small");
  EXPECT_EQ(m.shape->requests, 4);
  EXPECT_EQ(m.shape->arrival, Arrival::Closed);  // null removed the Poisson process
  EXPECT_EQ(m.shape->concurrency, 4);            // untouched fields stay
  EXPECT_EQ(m.model.path, "/base/models/tiny.gguf");
  EXPECT_EQ(m.resolved()["variant"], "small");
  EXPECT_NE(error_of(scenario(), "large").find("has no variant \"large\" (variants: small)"), std::string::npos);
  EXPECT_NE(error_of(replay(), "small").find("has no variants, so --variant small cannot apply"), std::string::npos);
}

TEST(Manifest, ThresholdsParseAndCompare) {
  const Threshold t = parse_threshold("  itl_p99_ms<12.5 ", "x");
  EXPECT_EQ(t.metric, "itl_p99_ms");
  EXPECT_EQ(t.op, CompareOp::Lt);
  EXPECT_TRUE(threshold_holds(t, 12.4));
  EXPECT_FALSE(threshold_holds(t, 12.5));
  EXPECT_TRUE(threshold_holds(parse_threshold("prefix_evictions >= 1", "x"), 1));
  EXPECT_FALSE(threshold_holds(parse_threshold("throughput_tok_s > 1e3", "x"), 1000));
  EXPECT_THROW(parse_threshold("ttft_p50_ms ~ 3", "x"), ManifestError);
}

TEST(Manifest, MatrixExpandsEveryCombination) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(testing::TempDir()) / ("ax_matrix_" + std::to_string(getpid()));
  fs::create_directories(dir);
  json base = scenario();
  base["model"]["path"] = "m.gguf";
  std::ofstream(dir / "base.json") << base.dump();
  std::ofstream(dir / "matrix.json") << json{{"schema", kMatrixSchema},
                                            {"manifests", {"base.json"}},
                                            {"vary", {{"shape.concurrency", {1, 8}}, {"runtime.kv_type", {"f16", "f32"}}}}}
                                            .dump();
  const std::vector<Manifest> ms = load_manifests((dir / "matrix.json").string(), "small");
  ASSERT_EQ(ms.size(), 4u);
  std::set<std::string> ids;
  for (const Manifest& m : ms) {
    ids.insert(m.id);
    EXPECT_EQ(m.shape->requests, 4) << "the variant applies under the matrix";
    EXPECT_EQ(m.model.path, (dir / "models/tiny.gguf").lexically_normal().string()) << "the variant's path, resolved";
  }
  EXPECT_EQ(ids, (std::set<std::string>{"chat-1-kv_typef16-concurrency1", "chat-1-kv_typef16-concurrency8",
                                        "chat-1-kv_typef32-concurrency1", "chat-1-kv_typef32-concurrency8"}));
  std::ofstream(dir / "bad.json") << json{{"schema", kMatrixSchema}, {"manifests", {"base.json"}},
                                          {"vary", {{"shape.concurrency", {-1}}}}}
                                         .dump();
  try {
    load_manifests((dir / "bad.json").string());
    ADD_FAILURE() << "a varied value out of range was accepted";
  } catch (const ManifestError& e) {
    EXPECT_NE(std::string(e.what()).find("(shape.concurrency=-1): shape.concurrency must be"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Manifest, EveryShippedManifestParsesAndItsSmallVariantUsesABundledModel) {
  namespace fs = std::filesystem;
  int files = 0;
  for (const auto& e : fs::directory_iterator(test::source_dir() + "/bench/manifests")) {
    if (e.path().extension() != ".json") continue;
    ++files;
    SCOPED_TRACE(e.path().string());
    const std::vector<Manifest> full = load_manifests(e.path().string());
    const std::vector<Manifest> small = load_manifests(e.path().string(), "small");
    ASSERT_EQ(full.size(), small.size());
    for (const Manifest& m : small) {
      EXPECT_TRUE(fs::exists(m.model.path)) << m.model.path;
      EXPECT_EQ(fs::path(m.model.path).lexically_relative(test::source_dir()).begin()->string(), "models");
      EXPECT_FALSE(m.description.empty());
    }
  }
  EXPECT_GE(files, 7);
}

// Dotted paths of the properties a JSON Schema declares ("replay.events[].t_ms"; maps of named
// entries as "prompts.*"), following local $refs and every oneOf alternative.
void schema_paths(const json& root, const json& s, const std::string& prefix, std::set<std::string>& out) {
  if (s.contains("$ref")) {
    const std::string ref = s["$ref"].get<std::string>();  // "#/$defs/name"
    return schema_paths(root, root.at(json::json_pointer(ref.substr(1))), prefix, out);
  }
  if (s.contains("oneOf"))
    for (const json& alt : s["oneOf"]) schema_paths(root, alt, prefix, out);
  if (s.contains("additionalProperties") && s["additionalProperties"].is_object() && !s.contains("properties"))
    return schema_paths(root, s["additionalProperties"], prefix + ".*", out);
  if (s.contains("items")) return schema_paths(root, s["items"], prefix + "[]", out);
  if (!s.contains("properties")) return;
  for (const auto& [key, sub] : s["properties"].items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    out.insert(path);
    schema_paths(root, sub, path, out);
  }
}

void document_paths(const json& d, const std::string& prefix, std::set<std::string>& out, bool named_map = false) {
  if (d.is_array()) {
    for (const json& e : d) document_paths(e, prefix + "[]", out);
    return;
  }
  if (!d.is_object()) return;
  for (const auto& [key, sub] : d.items()) {
    const std::string path = named_map ? prefix + ".*" : prefix.empty() ? key : prefix + "." + key;
    if (!named_map) out.insert(path);
    document_paths(sub, path, out, path == "prompts");
  }
}

TEST(Manifest, SchemaFileDeclaresExactlyTheFieldsTheParserWrites) {
  std::ifstream f(test::source_dir() + "/bench/manifest.schema.json");
  ASSERT_TRUE(f);
  const json schema = json::parse(f);
  std::set<std::string> declared, written;
  schema_paths(schema, schema, "", declared);
  json full = scenario();
  full["prompts"]["ids"] = {{"tokens", {1}}};
  full["model"]["sha256"] = std::string(64, 'a');
  full["shape"]["output_tokens"] = {{"min", 10}, {"max", 50}};
  for (const auto& [doc, variant] : {std::pair{full, ""}, std::pair{full, "small"}, std::pair{replay(), ""}})
    document_paths(parse_manifest(doc, "m.json", "/base", variant).resolved(), "", written);
  // Inputs that resolved() turns into something else: a file is read into text, variants are applied.
  for (const char* input_only : {"prompts.*.file", "variants"}) declared.erase(input_only);
  for (const auto& p : declared) EXPECT_TRUE(written.count(p)) << p << " is in the schema but not written";
  for (const auto& p : written) EXPECT_TRUE(declared.count(p)) << p << " is written but not in the schema";
}

}  // namespace
}  // namespace ax::bench
