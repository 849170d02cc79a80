#include "cli/sampling_options.h"

namespace ax::cli {

void add_sampling_options(CLI::App& sub, SamplingParams& s) {
  s.temperature = 0.8f;
  s.top_p = 0.95f;
  sub.add_option("--temperature", s.temperature, "Sampling temperature (0: greedy)")->capture_default_str();
  sub.add_option("--top-k", s.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str();
  sub.add_option("--top-p", s.top_p, "Nucleus mass to keep (1: off)")->capture_default_str();
  sub.add_option("--min-p", s.min_p, "Drop tokens below min-p times the top probability")->capture_default_str();
  sub.add_option("--repetition-penalty", s.repetition_penalty, "Penalty for tokens already seen (1: off)")
      ->capture_default_str();
  sub.add_option("--presence-penalty", s.presence_penalty, "Subtracted once from generated tokens")
      ->capture_default_str();
  sub.add_option("--frequency-penalty", s.frequency_penalty, "Subtracted per occurrence of generated tokens")
      ->capture_default_str();
}

}  // namespace ax::cli
