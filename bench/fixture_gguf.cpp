// A Hugging Face fixture folder (../shared/fixtures/NAME) written as a GGUF that llama.cpp loads,
// for the cross-check of every architecture with llama.cpp (scripts/crosscheck-fixtures.sh).
// The fixtures carry no tokenizer: the GGUF borrows the vocabulary of another file of the same
// size (--vocab; stories260K's 512 tokens fit the random fixtures), which only names the ids:
// both engines are fed token ids. Prints the fixture's prompts, one line of comma-separated ids
// each.
//
//   fixture_gguf --fixture DIR --vocab V.gguf --out OUT.gguf [--llama-cpp-scale]
//
// --llama-cpp-scale: Gemma's query_pre_attn_scalar has no GGUF key that llama.cpp reads (it
// derives the scale from head_dim); this writes the model with the scale llama.cpp will use, so
// that both engines run the same function (which is then not the fixture's transformers model).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "format/safetensors.h"
#include "model/gguf_export.h"
#include "model/model_source.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"Write a Hugging Face fixture folder as a GGUF file llama.cpp loads"};
  std::string fixture, vocab, out;
  bool llama_cpp_scale = false;
  app.add_option("--fixture", fixture, "fixture folder (config.json, model.safetensors, reference.safetensors)")->required();
  app.add_option("--vocab", vocab, "GGUF whose tokenizer.* keys are copied (same vocabulary size)")->required();
  app.add_option("--out", out, "GGUF to write")->required();
  app.add_flag("--llama-cpp-scale", llama_cpp_scale, "write the attention scale llama.cpp derives (head_dim^-0.5)");
  CLI11_PARSE(app, argc, argv);
  try {
    auto hf = ax::open_model(fixture);
    ax::ModelConfig c = hf->config();
    if (llama_cpp_scale) c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    auto v = ax::GgufFile::open(vocab);
    const ax::GgufValue* tokens = v->find("tokenizer.ggml.tokens");
    if (tokens == nullptr || static_cast<int64_t>(tokens->as_array().items.size()) != c.vocab_size)
      ax::fail("{}: its vocabulary is not {} tokens", vocab, c.vocab_size);
    ax::GgufWriter w;
    w.copy_metadata(*v, "tokenizer.");
    ax::write_model_config(w, c);
    ax::add_hf_tensors(w, c, hf->tensors());
    w.write(out);
    auto ref = ax::SafetensorsFile::open(fixture + "/reference.safetensors");
    for (int i = 0;; ++i) {
      const ax::TensorView* ids = ref->tensor("input_ids." + std::to_string(i));
      if (ids == nullptr) break;
      const auto* p = reinterpret_cast<const int32_t*>(ids->data);
      for (int64_t k = 0; k < ids->shape[0]; ++k) std::printf("%s%d", k ? "," : "", p[k]);
      std::printf("\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
