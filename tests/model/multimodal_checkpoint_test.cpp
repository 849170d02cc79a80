// Multimodal checkpoints (transformers' *ForConditionalGeneration: Gemma 3 from 4B, Qwen3.5): the
// text model's weights under model.language_model. (or language_model.model. in older Gemma 3
// folders), its config under text_config, a vision tower beside it. Written here from the text
// fixtures (tensors renamed, config nested, a few vision tensors added); the folder must load as the
// text model and give transformers' logits, bit for bit those of the text-only folder.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "backend/backend.h"
#include "golden_support.h"
#include "model/model_source.h"
#include "test_support.h"

namespace ax::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct Layout {
  const char* fixture;
  const char* outer_type;     // the multimodal config's model_type
  bool text_type_given;       // text_config names its model_type (else derived from outer_type)
  const char* model_prefix;   // what replaces "model." in the text model's tensor names
  const char* lm_head_name;   // where lm_head.weight goes (untied models)
};

// The fixture as a multimodal folder: config nested, tensors renamed, `vision` extra tensors.
fs::path write_multimodal(const Layout& l, int vision) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("ax_mm_{}_{}", l.fixture, std::random_device{}());
  fs::create_directories(dir);
  std::ifstream in(fixture(l.fixture) + "/config.json");
  json text = json::parse(in);
  if (!l.text_type_given) text.erase("model_type");
  // Gemma 3's multimodal configs leave the tying to the weights (no lm_head stored).
  if (text.value("tie_word_embeddings", false)) text.erase("tie_word_embeddings");
  const json outer = {{"architectures", {"SomeForConditionalGeneration"}},
                      {"model_type", l.outer_type},
                      {"text_config", text},
                      {"vision_config", {{"hidden_size", 16}, {"depth", 1}}}};
  std::ofstream(dir / "config.json") << outer.dump(2);
  fs::copy_file(fixture(l.fixture) + "/generation_config.json", dir / "generation_config.json");

  auto src = SafetensorsModel::open(fixture(l.fixture));
  std::vector<StTensor> ts;
  for (const auto& [name, t] : src->tensors()) {
    EXPECT_EQ(t.dtype, DType::F32) << name;
    std::string renamed = name == "lm_head.weight"     ? l.lm_head_name
                          : name.starts_with("model.") ? l.model_prefix + name.substr(6)
                                                       : name;
    ts.push_back({renamed, "F32", t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
  }
  for (int i = 0; i < vision; ++i)
    ts.push_back({fmt::format("model.visual.blocks.{}.attn.qkv.weight", i), "F32", {48, 16},
                  std::vector<uint8_t>(48 * 16 * 4, 0)});
  write_safetensors(dir / "model.safetensors", ts);
  return dir;
}

TEST(MultimodalCheckpoint, TextModelLoadsAndMatchesTransformers) {
  auto backend = make_backend({.kind = "cpu", .reference = true});
  const Layout layouts[] = {
      {"qwen3_5_text", "qwen3_5", true, "model.language_model.", "lm_head.weight"},
      {"gemma3_text", "gemma3", false, "language_model.model.", "language_model.lm_head.weight"},
  };
  for (const Layout& l : layouts) {
    SCOPED_TRACE(l.fixture);
    const fs::path dir = write_multimodal(l, 3);
    auto flat = open_model(fixture(l.fixture));
    auto nested = open_model(dir.string());
    EXPECT_EQ(nested->config().arch_name, flat->config().arch_name);
    EXPECT_EQ(nested->config().tie_word_embeddings, flat->config().tie_word_embeddings);
    EXPECT_EQ(nested->config().num_layers, flat->config().num_layers);
    EXPECT_EQ(nested->note(), "multimodal checkpoint: text model loaded, 3 other tensors (vision tower, projector) ignored");
    EXPECT_EQ(flat->note(), "");
    ASSERT_EQ(nested->tensors().size(), flat->tensors().size());
    for (const auto& [name, t] : flat->tensors()) EXPECT_NE(nested->find(name), nullptr) << name;

    auto model = load_model(*nested, *backend);
    auto flat_model = load_model(*flat, *backend);
    Reference ref = open_reference(fixture(l.fixture) + "/reference.safetensors");
    const double tol = flat->config().num_attention_layers() < flat->config().num_layers ? 5e-4 : 1e-4;
    for (int i = 0; i < 3; ++i) {
      const auto ids = ref.ints(fmt::format("input_ids.{}", i));
      const auto want = ref.floats(fmt::format("logits.{}", i));
      SequenceRunner run(*model, static_cast<int64_t>(ids.size())), run_flat(*flat_model, static_cast<int64_t>(ids.size()));
      const auto got = run.feed(ids, true);
      const Diff d = compare(got.data(), want.data(), want.size());
      EXPECT_LE(d.max_abs, d.tolerance(tol)) << "prompt " << i;
      EXPECT_EQ(got, run_flat.feed(ids, true)) << "prompt " << i << ": the same weights give the same logits";
    }
    fs::remove_all(dir);
  }
}

// A text_config without model_type and no outer model_type to derive it from is an error that says so.
TEST(MultimodalCheckpoint, UnnamedTextModelIsAnError) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("ax_mm_unnamed_{}", std::random_device{}());
  fs::create_directories(dir);
  std::ifstream in(fixture("qwen3") + "/config.json");
  json text = json::parse(in);
  text.erase("model_type");
  std::ofstream(dir / "config.json") << json{{"text_config", text}}.dump();
  fs::copy_file(fixture("qwen3") + "/model.safetensors", dir / "model.safetensors");
  try {
    open_model(dir.string());
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("names a model_type"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ax::test
