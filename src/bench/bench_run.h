#pragma once
// `ax-engine bench run`: one manifest from start to artifacts.
//   check the model (exists, sha256, backend) -> build the workload -> run it --repeat times
//   (fresh engine each time, or against --url) -> metrics, checks -> the artifact directory.
// Returns the exit code (checks.h: 0 ok, 3 a correctness check failed, 4 a threshold missed);
// a manifest that cannot run throws ManifestError (exit 2), anything else ax::Error (exit 1).
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bench/engine_transport.h"
#include "bench/manifest.h"

namespace ax::bench {

struct RunOptions {
  std::string out_dir = "bench-results";
  std::string url;            // empty: in-process
  std::string api = "auto";   // with url: "auto", "ax" or "openai"
  std::string api_key;
  std::string model_name;     // with api openai: the "model" field (default: the server's first)
  int repeat = 0;             // 0: 2 when the manifest expects determinism, else 1
  bool progress = true;       // a progress bar on stderr (a terminal only)
  std::optional<Perturbation> perturb;  // test hook (engine_transport.h)
};

struct ManifestResult {
  std::string dir;  // the artifact directory written
  int exit_code = 0;
  std::string summary_line;  // one line for the terminal
};

// Keeps the last loaded model between manifests of one invocation (a matrix runs one model many
// times).
class ModelCache;

class BenchRunner {
 public:
  explicit BenchRunner(RunOptions options);
  ~BenchRunner();
  ManifestResult run(const Manifest& m);

 private:
  RunOptions o_;
  std::unique_ptr<ModelCache> cache_;
};

// sha256 of a model: a file's bytes, or for a folder the sha256 of the lines
// "<relative path> <sha256 of the file>\n" over its files in path order.
std::string model_digest(const std::string& path);

}  // namespace ax::bench
