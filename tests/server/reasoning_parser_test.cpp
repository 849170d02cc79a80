// The thought split from the answer on streamed text, in both formats: any split of the text into
// chunks gives the same thought and answer as the whole text at once.
#include <gtest/gtest.h>

#include <random>

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
    i += n;
  }
  ReasoningSplit o = p.finish();
  all.reasoning += o.reasoning;
  all.content += o.content;
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
