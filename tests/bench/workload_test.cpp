// The workload generator (bench/workload.h): the same manifest gives the same requests (pinned by
// a digest, since comparisons across builds rely on it), a different seed different ones; lengths,
// shared prefixes, arrivals and replays come out as the manifest says.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>

#include "bench/manifest.h"
#include "bench/workload.h"

namespace ax::bench {
namespace {

using nlohmann::json;

// A 100-token vocabulary: 0 is EOS, 1 BOS, 2 a special token; text encodes one token per byte.
TokenSpace test_space(bool bos = true) {
  TokenSpace s;
  s.vocab_size = 100;
  s.bos = bos ? 1 : -1;
  for (int32_t i = 3; i < 100; ++i) s.ordinary.push_back(i);
  s.encode = [](const std::string& text) {
    std::vector<int32_t> ids;
    for (unsigned char c : text) ids.push_back(3 + c % 97);
    return ids;
  };
  return s;
}

Manifest shape_manifest(json shape, json extra = json::object()) {
  json doc = {{"schema", kManifestSchema}, {"id", "t"}, {"model", {{"path", "m"}}}, {"shape", shape}};
  doc.merge_patch(extra);
  return parse_manifest(doc, "t.json", "");
}

uint64_t digest(const Workload& w) {
  std::string bytes;
  for (const PlannedRequest& r : w.requests) {
    bytes += r.id + ":" + std::to_string(r.max_tokens) + ":" + std::to_string(r.arrival_ms) + ":";
    for (int32_t t : r.prompt) bytes += std::to_string(t) + ",";
  }
  return XXH64(bytes.data(), bytes.size(), 0);
}

TEST(Workload, SameManifestSameRequestsOtherSeedOtherRequests) {
  const json shape = {{"requests", 20}, {"input_tokens", {{"min", 10}, {"max", 40}}}, {"output_tokens", {{"min", 1}, {"max", 9}}},
                      {"arrival", {{"process", "poisson"}, {"rate_per_s", 50}}}, {"seed", 5}};
  const Workload a = build_workload(shape_manifest(shape), test_space());
  const Workload b = build_workload(shape_manifest(shape), test_space());
  EXPECT_EQ(digest(a), digest(b));
  json other = shape;
  other["seed"] = 6;
  EXPECT_NE(digest(build_workload(shape_manifest(other), test_space())), digest(a));
  // Pinned: a change here changes every benchmark's requests (and breaks comparisons with
  // artifacts made before it). Change the value only together with a note in docs/BENCH.md.
  EXPECT_EQ(digest(a), 0xfad3ccb9467dbcf9ull) << std::hex << digest(a);
}

TEST(Workload, LengthsStayInTheirRangesAndPromptsUseOrdinaryTokens) {
  const Workload w = build_workload(
      shape_manifest({{"requests", 200}, {"input_tokens", {{"min", 10}, {"max", 40}}}, {"output_tokens", {{"min", 3}, {"max", 9}}}}),
      test_space());
  ASSERT_EQ(w.requests.size(), 200u);
  EXPECT_TRUE(w.closed_loop);
  int64_t shortest = 1 << 30, longest = 0;
  for (const PlannedRequest& r : w.requests) {
    shortest = std::min<int64_t>(shortest, r.prompt.size());
    longest = std::max<int64_t>(longest, r.prompt.size());
    EXPECT_GE(r.max_tokens, 3);
    EXPECT_LE(r.max_tokens, 9);
    EXPECT_EQ(r.prompt[0], 1) << "BOS first";
    for (size_t i = 1; i < r.prompt.size(); ++i) EXPECT_GE(r.prompt[i], 3) << "no special tokens";
    EXPECT_LT(r.arrival_ms, 0) << "closed loop";
  }
  EXPECT_EQ(shortest, 10);
  EXPECT_EQ(longest, 40);
  EXPECT_EQ(w.requests[7].id, "r0007");
  EXPECT_EQ(w.requests[7].seed, 1u + 7u);  // sampling.seed (default 1) + index
}

TEST(Workload, PrefixGroupsShareTheirPrefixAndOnlyThat) {
  const Workload w = build_workload(shape_manifest({{"requests", 6}, {"input_tokens", 100}, {"shared_prefix_fraction", 0.5},
                                                    {"prefix_groups", 2}}),
                                    test_space());
  for (const PlannedRequest& r : w.requests) {
    EXPECT_EQ(r.shared_tokens, 1 + 50);
    EXPECT_EQ(r.prompt.size(), 100u);
  }
  auto prefix = [&](int i) { return std::vector<int32_t>(w.requests[i].prompt.begin(), w.requests[i].prompt.begin() + 51); };
  EXPECT_EQ(prefix(0), prefix(2));
  EXPECT_EQ(prefix(0), prefix(4));
  EXPECT_EQ(prefix(1), prefix(3));
  EXPECT_NE(prefix(0), prefix(1));
  EXPECT_EQ(w.requests[0].prefix_group, "g0");
  EXPECT_EQ(w.requests[3].prefix_group, "g1");
  EXPECT_NE(w.requests[0].prompt, w.requests[2].prompt) << "own parts differ";
}

TEST(Workload, PoissonArrivalsHaveTheRequestedRate) {
  const Workload w = build_workload(
      shape_manifest({{"requests", 4000}, {"input_tokens", 4}, {"output_tokens", 1},
                      {"arrival", {{"process", "poisson"}, {"rate_per_s", 20}}}}),
      test_space());
  EXPECT_FALSE(w.closed_loop);
  EXPECT_EQ(w.concurrency, 1);
  EXPECT_EQ(w.requests[0].arrival_ms, 0);
  for (size_t i = 1; i < w.requests.size(); ++i) ASSERT_GE(w.requests[i].arrival_ms, w.requests[i - 1].arrival_ms);
  const double mean_gap_ms = w.requests.back().arrival_ms / (w.requests.size() - 1);
  EXPECT_NEAR(mean_gap_ms, 50.0, 2.5);  // 4000 exponential gaps: the mean is within 5 %
}

TEST(Workload, TextSourceCutsWindowsOfThePrompt) {
  const Workload w = build_workload(
      shape_manifest({{"requests", 5}, {"input_tokens", 8}, {"source", "doc"}}, {{"prompts", {{"doc", {{"text", "abcdefghij"}}}}}}),
      test_space(false));
  const std::vector<int32_t> text = test_space().encode("abcdefghij");
  for (const PlannedRequest& r : w.requests) {
    ASSERT_EQ(r.prompt.size(), 8u);
    // Consecutive tokens follow each other in the text (wrapping around).
    auto at = std::find(text.begin(), text.end(), r.prompt[0]) - text.begin();
    for (size_t i = 0; i < r.prompt.size(); ++i) EXPECT_EQ(r.prompt[i], text[(at + i) % text.size()]);
  }
}

TEST(Workload, ReplayBuildsPromptsAndCancels) {
  json doc = json::parse(R"({
    "schema": "ax.bench.manifest.v1", "id": "r", "model": {"path": "m"},
    "prompts": {"sys": {"text": "ab", "repeat": 2}, "q": {"tokens": [7, 8]}},
    "sampling": {"seed": 40},
    "replay": {"events": [
      {"t_ms": 0, "op": "submit", "request_id": "one", "prompt": "q", "prefix_group": "sys", "output_tokens": 5},
      {"t_ms": 3, "op": "submit", "request_id": "two", "tokens": [9], "output_tokens": 2},
      {"t_ms": 4, "op": "cancel", "request_id": "one"}
    ]}})");
  const Workload w = build_workload(parse_manifest(doc, "r.json", ""), test_space());
  ASSERT_EQ(w.requests.size(), 2u);
  const int32_t a = 3 + 'a' % 97, b = 3 + 'b' % 97;
  EXPECT_EQ(w.requests[0].prompt, (std::vector<int32_t>{1, a, b, a, b, 7, 8})) << "BOS, the group's text twice, the prompt";
  EXPECT_EQ(w.requests[0].shared_tokens, 5);
  EXPECT_EQ(w.requests[0].prefix_group, "sys");
  EXPECT_EQ(w.requests[0].max_tokens, 5);
  EXPECT_EQ(w.requests[0].seed, 40u);
  EXPECT_EQ(w.requests[1].prompt, (std::vector<int32_t>{9})) << "token ids are sent as given";
  EXPECT_EQ(w.requests[1].arrival_ms, 3);
  EXPECT_EQ(w.requests[1].seed, 41u);
  ASSERT_EQ(w.cancels.size(), 1u);
  EXPECT_EQ(w.cancels[0].request, 0u);
  EXPECT_EQ(w.cancels[0].t_ms, 4);

  doc["replay"]["events"][1]["tokens"] = {9, 100};
  try {
    build_workload(parse_manifest(doc, "r.json", ""), test_space());
    ADD_FAILURE() << "a token outside the vocabulary was accepted";
  } catch (const ManifestError& e) {
    EXPECT_NE(std::string(e.what()).find("request \"two\": tokens[1] = 100 is outside the model's vocabulary of 100"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ax::bench
