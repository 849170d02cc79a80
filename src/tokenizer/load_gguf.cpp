// Tokenizer from GGUF metadata (tokenizer.ggml.*), as llama.cpp reads it:
//   model "gpt2"   -> byte-level BPE, word splitting by tokenizer.ggml.pre's regexes;
//   model "llama"  -> SentencePiece BPE driven by scores, U+2581 for spaces, <0xNN> fallback;
//   model "gemma4" -> BPE over raw UTF-8 with U+2581 for spaces and <0xNN> fallback, split into
//                     lines only.
#include <algorithm>

#include "format/gguf.h"
#include "tokenizer/eos_detect.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/text_tokenizer.h"
#include "util/error.h"

namespace ax {

namespace {

const GgufArray& array_of(const GgufFile& g, const std::string& key, GgufType elem) {
  const GgufValue* v = g.find(key);
  if (!v) fail("{}: missing {}", g.path(), key);
  const GgufArray& a = v->as_array();
  if (a.elem_type != elem) fail("{}: {} has the wrong element type", g.path(), key);
  return a;
}

int32_t id_or(const GgufFile& g, const std::string& key, int32_t def) {
  const GgufValue* v = g.find(key);
  if (!v) return def;
  int64_t id = v->as_int();
  return id < 0 || id > INT32_MAX ? -1 : static_cast<int32_t>(id);
}

bool bool_or(const GgufFile& g, const std::string& key, bool def) {
  const GgufValue* v = g.find(key);
  return v ? v->as_bool() : def;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const GgufFile& g) {
  TokenizerSpec spec;
  const std::string model = g.get_string_or("tokenizer.ggml.model", "");
  if (model.empty()) fail("{}: no tokenizer (tokenizer.ggml.model is missing)", g.path());
  std::string pre = g.get_string_or("tokenizer.ggml.pre", "");

  const GgufArray& tokens = array_of(g, "tokenizer.ggml.tokens", GgufType::STRING);
  const size_t n = tokens.items.size();
  if (n == 0) fail("{}: tokenizer.ggml.tokens is empty", g.path());
  spec.pieces.reserve(n);
  for (const auto& t : tokens.items) spec.pieces.push_back(t.as_string());
  spec.kinds.assign(n, TokenKind::Normal);
  if (g.find("tokenizer.ggml.token_type")) {
    const GgufArray& types = array_of(g, "tokenizer.ggml.token_type", GgufType::I32);
    if (types.items.size() != n)
      fail("{}: tokenizer.ggml.token_type has {} entries for {} tokens", g.path(), types.items.size(), n);
    for (size_t i = 0; i < n; ++i) {
      int64_t t = types.items[i].as_int();
      if (t < 1 || t > 6) t = 1;  // llama.cpp treats undefined types as normal
      spec.kinds[i] = static_cast<TokenKind>(t);
    }
  }
  if (g.find("tokenizer.ggml.scores")) {
    const GgufArray& scores = array_of(g, "tokenizer.ggml.scores", GgufType::F32);
    if (scores.items.size() != n)
      fail("{}: tokenizer.ggml.scores has {} entries for {} tokens", g.path(), scores.items.size(), n);
    spec.scores.reserve(n);
    for (const auto& s : scores.items) spec.scores.push_back(static_cast<float>(s.as_float()));
  }
  auto read_merges = [&] {
    const GgufArray& merges = array_of(g, "tokenizer.ggml.merges", GgufType::STRING);
    spec.merges.reserve(merges.items.size());
    for (const auto& m : merges.items) {
      const std::string& s = m.as_string();
      size_t sp = s.find(' ', 1);  // the first piece may itself be a space
      if (sp == std::string::npos) continue;
      spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    }
  };

  if (model == "gpt2") {
    spec.model = TokenizerSpec::Model::Bpe;
    spec.byte_level = true;
    spec.pre_regexes = pre_tokenizer_regexes(pre);
    read_merges();
    if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" || pre == "tekken") {
      spec.ignore_merges = true;
      spec.add_bos = true;
    }
    spec.kind = fmt::format("bpe (byte-level, {})", pre.empty() ? "default" : pre);
  } else if (model == "llama") {
    spec.model = TokenizerSpec::Model::Spm;
    if (spec.scores.empty()) fail("{}: tokenizer.ggml.scores is missing for a SentencePiece vocabulary", g.path());
    spec.escape_spaces = true;
    spec.byte_fallback = true;
    spec.add_bos = true;
    bool prefix = bool_or(g, "tokenizer.ggml.add_space_prefix", true);
    spec.space_prefix = prefix ? SpacePrefix::Always : SpacePrefix::None;
    spec.decode_strip_leading_space = prefix;
    spec.kind = "spm";
  } else if (model == "gemma4") {
    spec.model = TokenizerSpec::Model::Bpe;
    spec.escape_spaces = true;
    spec.byte_fallback = true;
    spec.whole_newline_runs = true;
    spec.pre_regexes = pre_tokenizer_regexes("gemma4");
    read_merges();
    spec.add_bos = true;  // llama.cpp forces it for Gemma 4, whatever the file says
    spec.kind = "bpe (sentencepiece-style, gemma4)";
  } else {
    fail("{}: unsupported tokenizer.ggml.model '{}' (supported: gpt2, llama, gemma4)", g.path(), model);
  }

  spec.unk_id = id_or(g, "tokenizer.ggml.unknown_token_id", model == "llama" ? 0 : -1);
  spec.bos_id = id_or(g, "tokenizer.ggml.bos_token_id", model == "llama" ? 1 : -1);
  spec.eos_id = id_or(g, "tokenizer.ggml.eos_token_id", model == "llama" ? 2 : -1);
  if (model != "gemma4") spec.add_bos = bool_or(g, "tokenizer.ggml.add_bos_token", spec.add_bos);
  spec.add_eos = bool_or(g, "tokenizer.ggml.add_eos_token", false);
  spec.chat_template = g.get_string_or("tokenizer.chat_template", "");

  // Control, user-defined and unknown tokens are matched whole in the text (llama.cpp's special
  // token cache). Phi-3's tokenizer.json gives its added tokens rstrip; GGUF has no such flag,
  // so llama.cpp sets it by model name, and so do we.
  const bool phi3 = [&] {
    std::string name = lower(g.get_string_or("general.name", ""));
    return name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos;
  }();
  for (size_t i = 0; i < n; ++i) {
    TokenKind k = spec.kinds[i];
    if (k != TokenKind::Control && k != TokenKind::UserDefined && k != TokenKind::Unknown) continue;
    const std::string& p = spec.pieces[i];
    bool rstrip = phi3 && p != "<unk>" && p != "<s>" && p != "<|endoftext|>";
    spec.added.push_back({static_cast<int32_t>(i), false, rstrip});
  }

  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int32_t id = id_or(g, key, -1);
    if (id >= 0) spec.eos_ids.push_back(id);
  }
  add_end_of_turn_tokens(spec);
  return std::make_unique<TextTokenizer>(std::move(spec));
}

}  // namespace ax
