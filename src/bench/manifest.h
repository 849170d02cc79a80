#pragma once
// A benchmark manifest (schema "ax.bench.manifest.v1", docs/BENCH.md, bench/manifest.schema.json):
// which model, how the runtime is set up, how requests sample, the workload (a generated scenario
// `shape` or a `replay` of timed events), and the checks the run must pass.
//
//   Manifest m = load_manifest("bench/manifests/chat-shared-system.json", "small");
//
// Parsing validates everything before a run starts: unknown fields, wrong types and values out of
// range are a ManifestError whose message names the file and the field ("runtime.threads must be
// an integer >= 0"). Relative paths (model.path, prompts.*.file) are resolved against the
// manifest's folder. `variants` holds named JSON merge patches (RFC 7386) applied before parsing,
// e.g. a small size for CI.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace ax::bench {

inline constexpr const char* kManifestSchema = "ax.bench.manifest.v1";
inline constexpr const char* kMatrixSchema = "ax.bench.matrix.v1";

// A manifest that cannot run as written (bench run exits 2).
class ManifestError : public Error {
 public:
  using Error::Error;
};

// A token count: fixed (min == max) or drawn uniformly from [min, max] per request.
struct TokenRange {
  int64_t min = 0, max = 0;
  bool fixed() const { return min == max; }
};

struct ModelSpec {
  std::string path;    // resolved against the manifest's folder
  std::string sha256;  // expected digest of the file (a folder: of its files, see model_digest); empty: not checked
};

struct RuntimeSpec {
  std::string backend = "cpu";
  int threads = 0;                 // 0: all cores
  std::string kv_type = "f16";     // "f16" | "f32"
  int64_t kv_pool_mb = 0;          // KV pool memory; 0: the engine's default budget
  int64_t kv_blocks = 0;           // exact pool size in blocks (wins over kv_pool_mb); 0: unset
  int64_t max_batch_tokens = 512;  // rows per forward pass
  int64_t max_num_seqs = 64;       // running sequences at most
  bool prefix_cache = true;
  bool speculation = true;         // n-gram drafting
  int max_draft = 31;
};

struct SamplingSpec {
  double temperature = 0;  // 0: greedy
  int top_k = 0;
  double top_p = 1;
  double min_p = 0;
  double repetition_penalty = 1;
  uint64_t seed = 1;       // request i samples with seed + i
  bool ignore_eos = true;  // generate exactly the output target
};

// A named prompt: text (inline or read from `file`) or token ids, `repeat` times over.
struct PromptSpec {
  std::string text;
  std::vector<int32_t> tokens;
  bool is_tokens = false;
  int64_t repeat = 1;
};

enum class Arrival { Closed, Poisson };

// A generated workload (bench/workload.h turns it into requests, deterministically from `seed`).
struct ShapeSpec {
  int64_t requests = 1;
  int64_t concurrency = 1;          // closed loop: requests in flight; Poisson: a cap (0: none)
  TokenRange input_tokens{128, 128};
  TokenRange output_tokens{64, 64};
  double shared_prefix_fraction = 0;  // of the mean input length, shared within a prefix group
  int64_t prefix_groups = 1;          // request i belongs to group i % prefix_groups
  std::string source = "random";      // "random" token ids, or a prompts name whose tokens are cut
  Arrival arrival = Arrival::Closed;
  double rate_per_s = 0;              // Poisson arrivals per second
  uint64_t seed = 1;
};

enum class EventOp { Submit, Cancel };

struct ReplayEvent {
  double t_ms = 0;
  EventOp op = EventOp::Submit;
  std::string request_id;
  std::string prompt;            // submit: a prompts name, or
  std::vector<int32_t> tokens;   // submit: token ids
  std::string prefix_group;      // submit: a prompts name put before the prompt (shared by the group)
  int64_t output_tokens = 64;    // submit
};

enum class CompareOp { Ge, Gt, Le, Lt };

// "decode_tok_s >= 20": a metric of metrics.json's summary against a bound.
struct Threshold {
  std::string metric;
  CompareOp op = CompareOp::Ge;
  double value = 0;
  std::string text;  // as written
};

struct ChecksSpec {
  bool expect_deterministic = false;  // every request's output identical across --repeat runs
  bool require_prefix_reuse = false;  // some prompt tokens must come from the prefix cache
  double min_prefix_hit_rate = 0;     // with require_prefix_reuse: at least this rate
  bool no_failed_requests = true;
  std::vector<Threshold> thresholds;
};

struct Manifest {
  std::string id;
  std::string description;
  std::string source_path;  // the file it came from ("" when built in memory)
  std::string variant;      // the variant applied, "" for none
  ModelSpec model;
  RuntimeSpec runtime;
  SamplingSpec sampling;
  std::map<std::string, PromptSpec> prompts;
  std::optional<ShapeSpec> shape;  // exactly one of shape and events
  std::vector<ReplayEvent> events;
  ChecksSpec checks;

  // The manifest as it runs: variant applied, paths resolved, every default filled in. This is
  // what manifest.json holds and what `bench compare` compares.
  nlohmann::json resolved() const;
};

// Parses and validates one manifest document. `where` names it in errors (a file path);
// relative paths resolve against `base_dir`; `variant` ("" for none) must name an entry of
// "variants".
Manifest parse_manifest(const nlohmann::json& doc, const std::string& where, const std::string& base_dir,
                        const std::string& variant = "");
// Reads a manifest file, or a matrix file (schema ax.bench.matrix.v1: base manifests times the
// values of "vary"), into the manifests it describes.
std::vector<Manifest> load_manifests(const std::string& path, const std::string& variant = "");

// Parses "metric >= value" (operators >=, >, <=, <); `where` names the field in errors.
Threshold parse_threshold(const std::string& text, const std::string& where);
bool threshold_holds(const Threshold& t, double value);
const char* op_text(CompareOp op);

}  // namespace ax::bench
