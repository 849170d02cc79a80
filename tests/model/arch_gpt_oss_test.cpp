// gpt-oss's Hugging Face checkpoints, converted at open into llama.cpp's expert layout
// (model/arch_gpt_oss.cpp): the float experts of the fixture (transposed, gate and up interleaved by
// column), and MXFP4 experts as OpenAI released them (blocks and scales, gate and up interleaved
// by row), the latter written here from the fixture in transformers' layout.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "backend/backend.h"
#include "format/dequant.h"
#include "format/gguf_writer.h"
#include "format/quantize.h"
#include "format/safetensors.h"
#include "golden_support.h"
#include "model/architecture.h"
#include "model/gguf_export.h"
#include "model/model_source.h"
#include "test_support.h"

namespace ax::test {
namespace {
namespace fs = std::filesystem;

const float* floats(const TensorView& t) { return reinterpret_cast<const float*>(t.data); }
constexpr int64_t E = 8, I = 64, H = 64;  // the fixture's experts

// gate_proj[e][i][h] = gate_up_proj[e][h][2i], up_proj[e][i][h] = gate_up_proj[e][h][2i + 1],
// down_proj[e][h][i] = HF down_proj[e][i][h], and the biases alike; the HF tensors are gone.
TEST(GptOss, HfFloatExpertsBecomeLlamaCppTensors) {
  auto m = open_model(fixture("gpt_oss"));
  auto raw = SafetensorsModel::open(fixture("gpt_oss"));
  for (int l = 0; l < 2; ++l) {
    SCOPED_TRACE(l);
    const std::string p = "model.layers." + std::to_string(l) + ".mlp.experts.";
    EXPECT_EQ(m->find(p + "gate_up_proj"), nullptr);
    EXPECT_EQ(m->find(p + "down_proj_bias"), nullptr);
    const float* gu = floats(raw->tensors().at(p + "gate_up_proj"));
    const float* gub = floats(raw->tensors().at(p + "gate_up_proj_bias"));
    const float* dn = floats(raw->tensors().at(p + "down_proj"));
    const float* dnb = floats(raw->tensors().at(p + "down_proj_bias"));
    const float* gate = floats(m->get(p + "gate_proj.weight", {E, I, H}));
    const float* up = floats(m->get(p + "up_proj.weight", {E, I, H}));
    const float* down = floats(m->get(p + "down_proj.weight", {E, H, I}));
    const float* gate_b = floats(m->get(p + "gate_proj.bias", {E, I}));
    const float* up_b = floats(m->get(p + "up_proj.bias", {E, I}));
    const float* down_b = floats(m->get(p + "down_proj.bias", {E, H}));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t i = 0; i < I; ++i) {
        for (int64_t h = 0; h < H; ++h) {
          ASSERT_EQ(gate[(e * I + i) * H + h], gu[(e * H + h) * 2 * I + 2 * i]);
          ASSERT_EQ(up[(e * I + i) * H + h], gu[(e * H + h) * 2 * I + 2 * i + 1]);
          ASSERT_EQ(down[(e * H + h) * I + i], dn[(e * I + i) * H + h]);
        }
        ASSERT_EQ(gate_b[e * I + i], gub[e * 2 * I + 2 * i]);
        ASSERT_EQ(up_b[e * I + i], gub[e * 2 * I + 2 * i + 1]);
      }
    for (int64_t k = 0; k < E * H; ++k) ASSERT_EQ(down_b[k], dnb[k]);
  }
}

// A fresh temporary folder holding the fixture's config files (the caller adds the weights).
fs::path folder_with_fixture_config(const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("ax_gpt_oss_" + tag + "_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  for (const char* f : {"config.json", "generation_config.json"}) fs::copy_file(fixture("gpt_oss") + "/" + f, dir / f);
  return dir;
}

// rows [R, C] of float values -> transformers' MXFP4 tensors: blocks [R, C/32, 16] with value 2j in
// the low nibble of byte j and 2j + 1 in the high one, scales [R, C/32] (the E8M0 exponent). The
// codes and exponents are the GGUF quantizer's (the same numbers; only the nibble order differs).
void hf_mxfp4(const std::vector<float>& rows, int64_t R, int64_t C, std::vector<uint8_t>& blocks,
              std::vector<uint8_t>& scales) {
  const std::vector<uint8_t> g = quantize(DType::MXFP4, rows.data(), R, C);
  for (size_t b = 0; b < g.size() / 17; ++b) {
    const uint8_t* blk = g.data() + 17 * b;
    uint8_t v[32];
    for (int j = 0; j < 16; ++j) {
      v[j] = blk[1 + j] & 0x0f;
      v[j + 16] = blk[1 + j] >> 4;
    }
    scales.push_back(blk[0]);
    for (int j = 0; j < 16; ++j) blocks.push_back(static_cast<uint8_t>(v[2 * j] | (v[2 * j + 1] << 4)));
  }
}

// The fixture as OpenAI's checkpoints store gpt-oss: experts in MXFP4 (rows [out, in], gate and
// up interleaved by row), everything else as is. It loads with the same MXFP4 bytes as a GGUF
// whose experts the GGUF quantizer made from the same values, and computes the same logits.
TEST(GptOss, HfMxfp4CheckpointLoadsAsGgufMxfp4) {
  const fs::path dir = folder_with_fixture_config("mxfp4");
  auto raw = SafetensorsModel::open(fixture("gpt_oss"));
  std::vector<StTensor> ts;
  for (const auto& [name, t] : raw->tensors()) {
    const bool gate_up = name.ends_with("experts.gate_up_proj"), down = name.ends_with("experts.down_proj");
    if (!gate_up && !down) {
      ts.push_back({name, "F32", t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
      continue;
    }
    // HF's x.W layout [E, in, out] back to rows [E, out, in]: gate_up rows alternate gate, up.
    const int64_t in = t.shape[1], out = t.shape[2];
    std::vector<float> rows(static_cast<size_t>(E * out * in));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t o = 0; o < out; ++o)
        for (int64_t k = 0; k < in; ++k) rows[(e * out + o) * in + k] = floats(t)[(e * in + k) * out + o];
    std::vector<uint8_t> blocks, scales;
    hf_mxfp4(rows, E * out, in, blocks, scales);
    ts.push_back({name + "_blocks", "U8", {E, out, in / 32, 16}, std::move(blocks)});
    ts.push_back({name + "_scales", "U8", {E, out, in / 32}, std::move(scales)});
  }
  write_safetensors(dir / "model.safetensors", ts);

  auto hf = open_model(dir.string());
  auto f32 = open_model(fixture("gpt_oss"));
  GgufWriter w;  // the reference: the float fixture as GGUF, its experts quantized by the GGUF quantizer
  write_model_config(w, f32->config());
  for (const auto& [name, t] : f32->tensors()) {
    const std::string g = hf_to_gguf_name(architecture_of(f32->config()), name);
    if (g.find("_exps.weight") != std::string::npos) {
      w.add_tensor(g, DType::MXFP4, t.shape, dequantize(t));
    } else {
      w.add_tensor_view(t, g);
    }
  }
  const fs::path gguf_path = dir / "experts_mxfp4.gguf";
  w.write(gguf_path.string());
  auto gguf = open_model(gguf_path.string());
  for (const char* x : {"gate_proj", "up_proj", "down_proj"})
    for (int l = 0; l < 2; ++l) {
      const std::string name = "model.layers." + std::to_string(l) + ".mlp.experts." + x + ".weight";
      SCOPED_TRACE(name);
      const TensorView *a = hf->find(name), *b = gguf->find(name);
      ASSERT_TRUE(a && b);
      EXPECT_EQ(a->dtype, DType::MXFP4);
      EXPECT_EQ(a->shape, b->shape);
      ASSERT_EQ(a->nbytes, b->nbytes);
      EXPECT_EQ(std::memcmp(a->data, b->data, a->nbytes), 0);
    }
  EXPECT_EQ(hf->find("model.layers.0.mlp.experts.gate_up_proj_blocks"), nullptr);

  auto be = make_backend({.kind = "cpu", .reference = true});
  auto mh = load_model(*hf, *be), mg = load_model(*gguf, *be);
  Reference ref = open_reference(fixture("gpt_oss") + "/reference.safetensors");
  const auto ids = ref.ints("input_ids.1");
  const int64_t T = static_cast<int64_t>(ids.size());
  const auto lh = SequenceRunner(*mh, T).feed(ids, true), lg = SequenceRunner(*mg, T).feed(ids, true);
  ASSERT_EQ(lh.size(), lg.size());
  EXPECT_EQ(std::memcmp(lh.data(), lg.data(), lh.size() * sizeof(float)), 0);
  hf.reset();
  gguf.reset();
  fs::remove_all(dir);
}

// Wrong blocks are refused with the tensor named.
TEST(GptOss, HfMxfp4BlocksOfTheWrongShapeAreRefused) {
  const fs::path dir = folder_with_fixture_config("bad");
  auto raw = SafetensorsModel::open(fixture("gpt_oss"));
  std::vector<StTensor> ts;
  for (const auto& [name, t] : raw->tensors())
    if (!name.ends_with("experts.gate_up_proj"))
      ts.push_back({name, "F32", t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
  for (int l = 0; l < 2; ++l)
    ts.push_back({"model.layers." + std::to_string(l) + ".mlp.experts.gate_up_proj_blocks", "U8", {E, 2 * I, H / 32, 8},
                  std::vector<uint8_t>(E * 2 * I * H / 32 * 8)});
  write_safetensors(dir / "model.safetensors", ts);
  try {
    open_model(dir.string());
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'model.layers.0.mlp.experts.gate_up_proj_blocks' is U8 [8, 128, 2, 8], "
                                         "expected U8 [8, 128, 2, 16]"),
              std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ax::test
