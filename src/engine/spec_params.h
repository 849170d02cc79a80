#pragma once
// Per-request control of n-gram (prompt-lookup) speculative decoding. The server maps the request
// field "speculation": {"mode": "ngram"|"off", "max_draft": k} onto this struct, the CLI maps
// --speculation ngram|off and --max-draft k. Speculation never changes the output distribution
// (greedy output is token-for-token identical; sampled output has exactly the model's law), so it
// is on by default; turning it off only changes speed.
namespace ax {

struct SpeculationParams {
  // The default draft length, chosen by measurement (docs/PERFORMANCE.md, "Speculative decoding").
  static constexpr int kDefaultMaxDraft = 12;
  // The largest draft accepted from a request. Longer drafts did not pay in measurements, and
  // 1 + 16 verify rows stay below the CPU kernels' GEMM switch (32 rows, bf16 activations), so a
  // single sequence's verify rows are computed exactly like its plain decode rows.
  static constexpr int kMaxMaxDraft = 16;

  bool enabled = true;              // "mode": "ngram" (true) or "off" (false)
  int max_draft = kDefaultMaxDraft;  // k: draft tokens per step at most, 1..kMaxMaxDraft
};

}  // namespace ax
