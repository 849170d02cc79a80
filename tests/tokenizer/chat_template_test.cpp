// Chat templates rendered by our Jinja interpreter must equal, character for character, what
// Hugging Face's apply_chat_template produces. The expected texts in
// tests/tokenizer/data/chat_templates/*.goldens.json were written once by
// `python3 scripts/make_chat_goldens.py`, which renders the same templates and conversations with
// the real Python jinja2 configured as transformers configures it. Cases where jinja2 raised an
// error (a template refusing a conversation) must raise here too.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "tokenizer/chat_template.h"
#include "util/error.h"

namespace ax {
namespace {

using ordered_json = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string data_dir() { return test::source_dir() + "/tests/tokenizer/data/chat_templates"; }

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The clock the goldens were rendered with: 2024-07-26 12:00:00 local time.
std::time_t golden_now() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 12;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

std::string first_difference(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) + "\n  got:  ..." + ordered_json(got.substr(from, 120)).dump() +
         "\n  want: ..." + ordered_json(want.substr(from, 120)).dump();
}

// Renders every case of one goldens file; returns how many cases were checked.
int check_goldens(const std::string& goldens_path) {
  ordered_json g = ordered_json::parse(read_file(goldens_path));
  const std::string template_name = g["template"].get<std::string>();
  ChatTemplate tpl(read_file(data_dir() + "/" + template_name));
  int checked = 0;
  for (const auto& c : g["cases"]) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(template_name + " / " + name);
    ChatTemplateOptions o;
    o.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    if (!g["bos_token"].is_null()) o.bos_token = g["bos_token"].get<std::string>();
    if (!g["eos_token"].is_null()) o.eos_token = g["eos_token"].get<std::string>();
    if (c["tools"].get<bool>()) o.tools = g["tools"];
    o.extra_context = c["extra"];
    o.clock = golden_now;
    const ordered_json& messages = g["conversations"][c["conversation"].get<std::string>()];
    if (c.contains("expected")) {
      const std::string want = c["expected"].get<std::string>();
      try {
        std::string got = tpl.render(messages, o);
        EXPECT_TRUE(got == want) << first_difference(got, want);
      } catch (const Error& e) {
        ADD_FAILURE() << "render failed: " << e.what();
      }
    } else {
      EXPECT_THROW(tpl.render(messages, o), Error) << "jinja2 raised: " << c["error"].get<std::string>();
    }
    ++checked;
  }
  return checked;
}

TEST(ChatTemplateGoldens, EveryTemplateRendersExactlyAsJinja2) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(data_dir())) {
    std::string p = entry.path().string();
    if (p.size() > 13 && p.substr(p.size() - 13) == ".goldens.json") files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 13u) << "goldens missing from " << data_dir();
  int total = 0;
  for (const auto& f : files) total += check_goldens(f);
  EXPECT_GE(total, 300);
}

// Each required family, by name, so a missing file cannot pass silently.
TEST(ChatTemplateGoldens, RequiredFamiliesPresent) {
  for (const char* name : {"qwen3", "llama-3.1", "llama-3.2", "mistral-v0.3", "mistral-nemo-2407",
                           "mistral-small-3.1", "gemma-2", "gemma-3", "gguf-gemma-4", "ax-code-chatml",
                           "gguf-qwen2", "gguf-phi-3", "phi-3.5-mini"}) {
    EXPECT_TRUE(fs::exists(data_dir() + "/" + name + ".jinja")) << name;
    EXPECT_TRUE(fs::exists(data_dir() + "/" + name + ".goldens.json")) << name;
  }
}

// ---- errors say where and why ----

std::string error_of(const std::string& source, const ordered_json& messages = ordered_json::array(),
                     ChatTemplateOptions o = {}) {
  try {
    ChatTemplate t(source);
    t.render(messages, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ChatTemplateErrors, UnknownFilterNamesLineAndColumn) {
  EXPECT_EQ(error_of("line one\n{{ 'x' | upper }}\n  {{ messages | foo }}"),
            "chat template line 3, column 17: unknown filter 'foo'");
}

TEST(ChatTemplateErrors, UnclosedBlock) {
  std::string e = error_of("{% for m in messages %}{{ m.role }}");
  EXPECT_NE(e.find("chat template line 1"), std::string::npos) << e;
  EXPECT_NE(e.find("endfor"), std::string::npos) << e;
  e = error_of("{% if true %}x{% endfor %}");
  EXPECT_NE(e.find("line 1, column 18"), std::string::npos) << e;
  e = error_of("{{ messages[0 }}");
  EXPECT_NE(e.find("chat template line 1"), std::string::npos) << e;
}

TEST(ChatTemplateErrors, RaiseExceptionCarriesMessageAndPosition) {
  std::string src =
      "{% for m in messages %}\n"
      "{% if m.role == 'system' %}\n"
      "  {{ raise_exception('System role not supported') }}\n"
      "{% endif %}\n"
      "{% endfor %}";
  ordered_json msgs = ordered_json::parse(R"([{"role":"system","content":"x"}])");
  EXPECT_EQ(error_of(src, msgs),
            "chat template line 3, column 6: the template raised an error: System role not supported");
}

TEST(ChatTemplateErrors, RuntimeTypeErrorsArePositioned) {
  std::string e = error_of("{{ 'a' + 1 }}");
  EXPECT_EQ(e, "chat template line 1, column 8: can only concatenate str (not \"int\") to str");
  e = error_of("\n\n{{ nothing.attr }}");
  EXPECT_EQ(e, "chat template line 3, column 11: 'nothing' is undefined");
}

TEST(ChatTemplateErrors, BadMessagesAreRejected) {
  ChatTemplate t("{{ messages }}");
  EXPECT_THROW(t.render(ordered_json::object(), {}), Error);
  EXPECT_THROW(t.render(ordered_json::parse("[1]"), {}), Error);
}

TEST(ChatTemplateErrors, RunawayTemplatesStop) {
  ChatTemplateOptions o;
  o.limits.max_steps = 100000;
  std::string e = error_of("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
                           ordered_json::array(), o);
  EXPECT_NE(e.find("budget"), std::string::npos) << e;
  e = error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_NE(e.find("nested deeper"), std::string::npos) << e;
  o = {};
  o.limits.max_output_bytes = 1 << 16;
  e = error_of("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
               ordered_json::array(), o);
  EXPECT_NE(e.find("too large"), std::string::npos) << e;
}

// ---- the API around the template ----

TEST(ChatTemplateApi, ContinueFinalMessageLeavesTheTurnOpen) {
  ChatTemplate t(read_file(data_dir() + "/qwen3.jinja"));
  ordered_json msgs = ordered_json::parse(R"([{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello th"}])");
  ChatTemplateOptions o;
  o.add_generation_prompt = false;
  o.continue_final_message = true;
  EXPECT_EQ(t.render(msgs, o), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello th");
  o.add_generation_prompt = true;
  EXPECT_THROW(t.render(msgs, o), Error);
}

TEST(ChatTemplateApi, UndefinedBosTokenPrintsNothing) {
  ChatTemplate t("[{{ bos_token }}]{{ eos_token is defined }}");
  ChatTemplateOptions o;
  EXPECT_EQ(t.render(ordered_json::array(), o), "[]False");
  o.bos_token = "<s>";
  o.eos_token = "</s>";
  EXPECT_EQ(t.render(ordered_json::array(), o), "[<s>]True");
}

TEST(ChatTemplateApi, ToolsKeepClientKeyOrder) {
  ChatTemplate t("{{ tools | tojson }}|{{ tools is none }}");
  ChatTemplateOptions o;
  EXPECT_EQ(t.render(ordered_json::array(), o), "null|True");
  o.tools = ordered_json::parse(R"([{"type":"function","function":{"name":"f","b":1,"a":2}}])");
  EXPECT_EQ(t.render(ordered_json::array(), o), R"([{"type": "function", "function": {"name": "f", "b": 1, "a": 2}}]|False)");
}

TEST(ChatTemplateApi, ChatmlFallback) {
  ordered_json msgs = ordered_json::parse(
      R"([{"role":"system","content":"S"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"image"},{"type":"text","text":"b"}]},{"role":"assistant","content":null}])");
  EXPECT_EQ(render_chatml(msgs, true),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chatml(ordered_json::array(), false), "");
  EXPECT_THROW(render_chatml(ordered_json::parse(R"([{"content":"x"}])"), true), Error);
}

// Random conversations through the Qwen3 template: rendering is deterministic, contains every
// message verbatim, and never throws for well-formed user/assistant turns.
TEST(ChatTemplateApi, RandomConversationsRenderConsistently) {
  std::random_device rd;
  const unsigned seed = rd();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  ChatTemplate t(read_file(data_dir() + "/qwen3.jinja"));
  const std::vector<std::string> pieces = {"a", "Z", " ", "\n", "é", "你", "🎉", "<", "{{", "%}", "\\", "\"", "'", "\t"};
  for (int iter = 0; iter < 50; ++iter) {
    ordered_json msgs = ordered_json::array();
    int n = 1 + static_cast<int>(rng() % 6);
    std::vector<std::string> contents;
    for (int i = 0; i < n; ++i) {
      std::string s = "m" + std::to_string(i) + ":";
      int len = static_cast<int>(rng() % 20);
      for (int k = 0; k < len; ++k) s += pieces[rng() % pieces.size()];
      s += ".";
      contents.push_back(s);
      msgs.push_back({{"role", i % 2 == 0 ? "user" : "assistant"}, {"content", s}});
    }
    ChatTemplateOptions o;
    std::string a = t.render(msgs, o);
    EXPECT_EQ(a, t.render(msgs, o));
    for (size_t i = 0; i < contents.size(); i += 2) EXPECT_NE(a.find(contents[i]), std::string::npos) << contents[i];
    EXPECT_EQ(a.substr(a.size() - 22), "<|im_start|>assistant\n");
  }
}

}  // namespace
}  // namespace ax
