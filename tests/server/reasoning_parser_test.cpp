// The thought split from the answer on streamed text, in both formats: any split of the text into
// chunks gives the same thought and answer as the whole text at once.
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "server/reasoning_parser.h"

namespace ax::server {
namespace {

ReasoningSplit run_chunked(ReasoningFormat format, bool inside, const std::string& text, std::mt19937& rng) {
  ReasoningParser p(format, inside);
  ReasoningSplit all;
  for (size_t i = 0; i < text.size();) {
    const size_t n = 1 + rng() % 6;
    ReasoningSplit o = p.push(std::string_view(text).substr(i, n));
    all.reasoning += o.reasoning;
    all.content += o.content;
    for (auto& c : o.calls) all.calls.push_back(c);
    i += n;
  }
  ReasoningSplit o = p.finish();
  all.reasoning += o.reasoning;
  all.content += o.content;
  for (auto& c : o.calls) all.calls.push_back(c);
  return all;
}

struct Case {
  bool inside;
  std::string text, reasoning, content;
};

TEST(ReasoningParser, ThinkTagsUnderAnySplit) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::vector<Case> cases = {
      // The model opens the thought itself; leading whitespace and the blank line after it go.
      {false, "\n<think>\nLet me see. 2 < 3.\n</think>\n\nThe answer is 3.", "\nLet me see. 2 < 3.\n", "The answer is 3."},
      // The template opened it (the prompt ends in "<think>\n").
      {true, "Hmm, </thin> is not a tag.\n</think>\n\nDone.", "Hmm, </thin> is not a tag.\n", "Done."},
      // Never closed: all thought (the answer was cut off).
      {true, "still thinking <", "still thinking <", ""},
      // No thought at all: plain answer; a "<think>" after answer text is text.
      {false, "Plain answer with <think> inside.", "", "Plain answer with <think> inside."},
      {false, "<thi", "", "<thi"},
      // Only one thought: a second "<think>" after the first closed is answer text.
      {false, "<think>a</think>b<think>c</think>", "a", "b<think>c</think>"},
      // Disabled thinking renders an empty block the model may repeat.
      {false, "<think>\n\n</think>\n\nok", "\n\n", "ok"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    for (int trial = 0; trial < 30; ++trial) {
      ReasoningSplit out = run_chunked(ReasoningFormat::Think, c.inside, c.text, rng);
      EXPECT_EQ(out.reasoning, c.reasoning);
      EXPECT_EQ(out.content, c.content);
    }
  }
}

TEST(ReasoningParser, HarmonyChannelsUnderAnySplit) {
  std::mt19937 rng(std::random_device{}());
  const std::string text =
      "<|channel|>analysis<|message|>User wants 2+2. Easy.<|end|><|start|>assistant<|channel|>final<|message|>4";
  for (int trial = 0; trial < 30; ++trial) {
    ReasoningSplit out = run_chunked(ReasoningFormat::Channels, false, text, rng);
    EXPECT_EQ(out.reasoning, "User wants 2+2. Easy.");
    EXPECT_EQ(out.content, "4");
  }
  // A prompt that ends in the analysis header starts inside the thought.
  ReasoningSplit out = run_chunked(ReasoningFormat::Channels, true, "think<|end|><|start|>assistant<|channel|>final<|message|>ok", rng);
  EXPECT_EQ(out.reasoning, "think");
  EXPECT_EQ(out.content, "ok");
  // A model that does not speak harmony: its text is the answer.
  out = run_chunked(ReasoningFormat::Channels, false, "just text", rng);
  EXPECT_EQ(out.content, "just text");
  EXPECT_EQ(out.reasoning, "");
}

// Harmony tool calls: a message addressed to functions.NAME (the recipient after the channel or
// before it) is a call with its JSON arguments, whether <|call|> arrives or was the end token
// (left out of the text); arguments that are not JSON stay text.
TEST(ReasoningParser, HarmonyToolCallsUnderAnySplit) {
  std::mt19937 rng(std::random_device{}());
  const std::string thought = "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant";
  const std::vector<std::string> calls = {
      thought + "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|>",
      thought + " to=functions.get_weather<|channel|>commentary json<|message|>{\"city\": \"Paris\"}",
  };
  for (int trial = 0; trial < 30; ++trial) {
    for (const std::string& text : calls) {
      ReasoningSplit out = run_chunked(ReasoningFormat::Channels, false, text, rng);
      EXPECT_EQ(out.reasoning, "Need weather.");
      EXPECT_EQ(out.content, "");
      ASSERT_EQ(out.calls.size(), 1u) << text;
      EXPECT_EQ(out.calls[0].name, "get_weather");
      EXPECT_EQ(nlohmann::json::parse(out.calls[0].arguments), nlohmann::json({{"city", "Paris"}}));
      EXPECT_EQ(out.calls[0].id.rfind("call_", 0), 0u);
    }
  }
  // A preamble on commentary is answer text; a message to a function with broken JSON stays text.
  ReasoningSplit out = run_chunked(ReasoningFormat::Channels, false,
                                   "<|channel|>commentary<|message|>Checking.<|end|><|start|>assistant<|channel|>commentary "
                                   "to=functions.f <|constrain|>json<|message|>{\"a\": <|call|>",
                                   rng);
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.content, "Checking.{\"a\": ");
}

TEST(ReasoningParser, FormatAndOpenPrompt) {
  EXPECT_EQ(reasoning_format_of_template("{{ '<|im_start|>' }}"), ReasoningFormat::None);
  EXPECT_EQ(reasoning_format_of_template("{{ '<think>\\n\\n</think>' }}"), ReasoningFormat::Think);
  EXPECT_EQ(reasoning_format_of_template("<|channel|>analysis<|message|>"), ReasoningFormat::Channels);
  EXPECT_TRUE(prompt_opens_reasoning(ReasoningFormat::Think, "<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning(ReasoningFormat::Think, "<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning(ReasoningFormat::Think, "<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_reasoning(ReasoningFormat::None, "<think>\n"));
  EXPECT_TRUE(prompt_opens_reasoning(ReasoningFormat::Channels, "<|start|>assistant<|channel|>analysis<|message|>"));
}

}  // namespace
}  // namespace ax::server
