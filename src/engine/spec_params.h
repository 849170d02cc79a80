#pragma once
// Per-request control of n-gram (prompt-lookup) speculative decoding. The server maps the request
// field "speculation": {"mode": "ngram"|"off", "max_draft": k} onto this struct, the CLI maps
// --speculation ngram|off and --max-draft k. Speculation never changes the output distribution
// (greedy output is token-for-token identical; sampled output has exactly the model's law), so it
// is on by default; turning it off only changes speed.
namespace ax {

struct SpeculationParams {
  // The default draft length, chosen by measurement (docs/PERFORMANCE.md, "Speculative decoding").
  static constexpr int kDefaultMaxDraft = 31;
  // The largest draft accepted from a request: 1 + 31 verify rows fill the engine's per-step row
  // budget (SpecGateOptions::max_rows_per_step). Verify rows are computed exactly like plain decode
  // rows at any row count (the kernels are batch-invariant).
  static constexpr int kMaxMaxDraft = 31;

  bool enabled = true;              // "mode": "ngram" (true) or "off" (false)
  int max_draft = kDefaultMaxDraft;  // k: draft tokens per step at most, 1..kMaxMaxDraft
};

}  // namespace ax
