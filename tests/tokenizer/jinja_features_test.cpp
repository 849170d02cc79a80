// Interpreter features, one snippet each, against the real Python jinja2: the expected outputs
// in data/chat_templates/jinja_features.json were written by
// `python3 scripts/make_chat_goldens.py` (HF's jinja2 environment). Snippets where jinja2 raised
// must raise here too.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "tokenizer/jinja/template.h"

namespace ax::jinja {
namespace {

TEST(JinjaFeatures, EverySnippetMatchesJinja2) {
  std::ifstream f(test::source_dir() + "/tests/tokenizer/data/chat_templates/jinja_features.json");
  ASSERT_TRUE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  auto g = nlohmann::ordered_json::parse(ss.str());
  std::vector<std::pair<std::string, Value>> context;
  for (auto it = g["context"].begin(); it != g["context"].end(); ++it)
    context.emplace_back(it.key(), from_json(it.value()));
  int checked = 0;
  for (const auto& c : g["cases"]) {
    const std::string src = c["template"].get<std::string>();
    SCOPED_TRACE(src);
    if (c.contains("expected")) {
      try {
        std::string got = Template(src).render(context);
        EXPECT_EQ(got, c["expected"].get<std::string>());
      } catch (const TemplateError& e) {
        ADD_FAILURE() << "failed: " << e.what();
      }
    } else {
      EXPECT_THROW(Template(src).render(context), TemplateError) << "jinja2: " << c["error"].get<std::string>();
    }
    ++checked;
  }
  EXPECT_GE(checked, 100);
}

}  // namespace
}  // namespace ax::jinja
