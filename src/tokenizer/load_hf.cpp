// Tokenizer from a Hugging Face folder: tokenizer.json (model, normalizer, pre_tokenizer,
// post_processor, decoder, added_tokens) plus tokenizer_config.json (BOS/EOS flags, chat template)
// and generation_config.json (end-of-generation ids).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/eos_detect.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/text_tokenizer.h"
#include "util/error.h"

namespace ax {

namespace {
using json = nlohmann::json;
namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open file", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json read_json(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}

// PCRE2 literal for a String split pattern.
std::string quote_regex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// A token name in tokenizer_config.json: "<s>" or {"content": "<s>", ...}; empty if absent.
std::string token_name(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content")) return (*it)["content"].get<std::string>();
  return {};
}

struct HfLoader {
  std::string path;  // tokenizer.json, for messages
  TokenizerSpec& spec;

  void normalizer(const json& n) {
    if (n.is_null()) return;
    std::string type = n.value("type", "");
    if (type == "Sequence") {
      for (const auto& sub : n.at("normalizers")) normalizer(sub);
    } else if (type == "NFC") {
      spec.normal_form = NormalForm::NFC;
    } else if (type == "NFD") {
      spec.normal_form = NormalForm::NFD;
    } else if (type == "NFKC") {
      spec.normal_form = NormalForm::NFKC;
    } else if (type == "NFKD") {
      spec.normal_form = NormalForm::NFKD;
    } else if (type == "Prepend" && n.value("prepend", "") == "\xE2\x96\x81") {
      spec.space_prefix = SpacePrefix::Always;  // Llama-2 style: "▁" before every fragment
    } else if (type == "Replace" && n.contains("pattern") && n["pattern"].contains("String") &&
               n["pattern"]["String"] == " " && n.value("content", "") == "\xE2\x96\x81") {
      spec.escape_spaces = true;
    } else {
      fail("{}: unsupported normalizer {}", path, n.dump());
    }
  }

  void pre_tokenizer(const json& p) {
    if (p.is_null()) return;
    std::string type = p.value("type", "");
    if (type == "Sequence") {
      for (const auto& sub : p.at("pretokenizers")) pre_tokenizer(sub);
    } else if (type == "ByteLevel") {
      spec.byte_level = true;
      if (p.value("use_regex", true)) spec.pre_regexes.push_back(kGpt2Regex);
      if (p.value("add_prefix_space", false)) {
        spec.space_prefix = SpacePrefix::Always;
        spec.prefix_if_missing = true;
      }
    } else if (type == "Split") {
      std::string behavior = p.value("behavior", "Isolated");
      if (behavior != "Isolated" || p.value("invert", false))
        fail("{}: unsupported Split pre-tokenizer (behavior {}, invert {})", path, behavior,
             p.value("invert", false));
      const json& pat = p.at("pattern");
      if (pat.contains("Regex")) spec.pre_regexes.push_back(pat["Regex"].get<std::string>());
      else if (pat.contains("String")) spec.pre_regexes.push_back(quote_regex(pat["String"].get<std::string>()));
      else fail("{}: Split pre-tokenizer without a pattern", path);
    } else if (type == "Metaspace") {
      if (p.value("replacement", "\xE2\x96\x81") != "\xE2\x96\x81")
        fail("{}: Metaspace with a replacement other than U+2581 is not supported", path);
      spec.escape_spaces = true;
      std::string scheme = p.value("prepend_scheme", p.value("add_prefix_space", true) ? "always" : "never");
      spec.space_prefix = scheme == "always" ? SpacePrefix::Always
                          : scheme == "first" ? SpacePrefix::First
                                              : SpacePrefix::None;
      spec.prefix_if_missing = true;
      spec.decode_strip_leading_space = spec.space_prefix != SpacePrefix::None;
      if (p.value("split", true)) spec.pre_regexes.push_back("\xE2\x96\x81[^\xE2\x96\x81]*|[^\xE2\x96\x81]+");
    } else if (type == "Digits") {
      spec.pre_regexes.push_back(p.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
    } else {
      fail("{}: unsupported pre_tokenizer type '{}'", path, type);
    }
  }

  // TemplateProcessing "single": [SpecialToken <s>, Sequence A, SpecialToken </s>] says BOS/EOS.
  void post_processor(const json& p) {
    if (p.is_null()) return;
    std::string type = p.value("type", "");
    if (type == "Sequence") {
      for (const auto& sub : p.at("processors")) post_processor(sub);
    } else if (type == "TemplateProcessing") {
      bool seen_sequence = false;
      for (const auto& item : p.at("single")) {
        if (item.contains("Sequence")) {
          seen_sequence = true;
        } else if (item.contains("SpecialToken")) {
          std::string name = item["SpecialToken"].value("id", "");
          int32_t id = -1;
          const json& st = p.value("special_tokens", json::object());
          if (st.contains(name) && !st[name]["ids"].empty()) id = st[name]["ids"][0].get<int32_t>();
          if (id < 0) fail("{}: post_processor names special token '{}' without an id", path, name);
          if (!seen_sequence) {
            spec.add_bos = true;
            spec.bos_id = id;
          } else {
            spec.add_eos = true;
            spec.eos_id = id;
          }
        }
      }
    }
    // ByteLevel (offsets only), RobertaProcessing/BertProcessing (encoder models) add nothing
    // for decoder-only text generation.
  }

  void decoder(const json& d) {
    if (d.is_null()) return;
    std::string type = d.value("type", "");
    if (type == "Sequence") {
      for (const auto& sub : d.at("decoders")) decoder(sub);
    } else if (type == "Strip") {
      if (d.value("content", "") == " " && d.value("start", 0) >= 1) spec.decode_strip_leading_space = true;
    } else if (type == "Metaspace") {
      std::string scheme = d.value("prepend_scheme", d.value("add_prefix_space", true) ? "always" : "never");
      if (scheme != "never") spec.decode_strip_leading_space = true;
    }
  }
};
}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_hf(const std::string& dir) {
  const std::string path = (fs::path(dir) / "tokenizer.json").string();
  if (!fs::exists(path)) fail("{}: no tokenizer.json in the model folder", dir);
  json tj = read_json(path);
  json cfg = json::object();
  const std::string cfg_path = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::exists(cfg_path)) cfg = read_json(cfg_path);

  TokenizerSpec spec;
  HfLoader L{path, spec};
  try {
    const json& model = tj.at("model");
    std::string mtype = model.value("type", "BPE");
    if (mtype != "BPE") fail("{}: unsupported tokenizer model type '{}' (only BPE)", path, mtype);
    if (!model.value("continuing_subword_prefix", json()).is_null() &&
        !model["continuing_subword_prefix"].get<std::string>().empty())
      fail("{}: BPE continuing_subword_prefix is not supported", path);

    // Vocabulary: model.vocab plus added tokens, indexed by id.
    const json& vocab = model.at("vocab");
    size_t n = 0;
    for (const auto& [piece, id] : vocab.items()) n = std::max(n, id.get<size_t>() + 1);
    const json& added = tj.value("added_tokens", json::array());
    for (const auto& a : added) n = std::max(n, a.at("id").get<size_t>() + 1);
    if (n > (1u << 24)) fail("{}: vocabulary of {} tokens is implausibly large", path, n);
    spec.pieces.assign(n, std::string());
    spec.kinds.assign(n, TokenKind::Unused);  // ids nobody names stay unused
    for (const auto& [piece, id] : vocab.items()) {
      spec.pieces[id.get<size_t>()] = piece;
      spec.kinds[id.get<size_t>()] = TokenKind::Normal;
    }
    for (const auto& a : added) {
      auto id = a.at("id").get<int32_t>();
      spec.pieces[id] = a.at("content").get<std::string>();
      spec.kinds[id] = a.value("special", false) ? TokenKind::Control : TokenKind::UserDefined;
      spec.added.push_back({id, a.value("lstrip", false), a.value("rstrip", false)});
    }
    for (const auto& m : model.value("merges", json::array())) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) fail("{}: merge '{}' has no space", path, s);
        spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else {
        spec.merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
      }
    }
    spec.byte_fallback = model.value("byte_fallback", false);
    spec.ignore_merges = model.value("ignore_merges", false);
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
      auto it = vocab.find(model["unk_token"].get<std::string>());
      if (it != vocab.end()) spec.unk_id = it->get<int32_t>();
    }
    if (spec.byte_fallback)
      for (size_t i = 0; i < n; ++i)
        if (spec.kinds[i] == TokenKind::Normal && spec.pieces[i].size() == 6 &&
            spec.pieces[i].rfind("<0x", 0) == 0 && spec.pieces[i][5] == '>')
          spec.kinds[i] = TokenKind::Byte;

    L.normalizer(tj.value("normalizer", json()));
    L.pre_tokenizer(tj.value("pre_tokenizer", json()));
    L.decoder(tj.value("decoder", json()));
    // BOS/EOS names from the config; the post_processor says whether they are added.
    auto id_of = [&](const std::string& name) -> int32_t {
      if (name.empty()) return -1;
      for (const auto& a : added)
        if (a.at("content") == name) return a.at("id").get<int32_t>();
      auto it = vocab.find(name);
      return it == vocab.end() ? -1 : it->get<int32_t>();
    };
    spec.bos_id = id_of(token_name(cfg, "bos_token"));
    spec.eos_id = id_of(token_name(cfg, "eos_token"));
    L.post_processor(tj.value("post_processor", json()));
    // transformers lets tokenizer_config.json's flags override the post-processor.
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
      spec.add_bos = cfg["add_bos_token"].get<bool>();
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean())
      spec.add_eos = cfg["add_eos_token"].get<bool>();
    if (spec.add_bos && spec.bos_id < 0) fail("{}: add_bos_token is set but there is no bos_token", cfg_path);
    if (spec.add_eos && spec.eos_id < 0) fail("{}: add_eos_token is set but there is no eos_token", cfg_path);

    // Chat template: tokenizer_config.json (a string, or a list of {name, template}), else
    // chat_template.jinja beside it (newer transformers write it there).
    if (cfg.contains("chat_template")) {
      const json& ct = cfg["chat_template"];
      if (ct.is_string()) {
        spec.chat_template = ct.get<std::string>();
      } else if (ct.is_array()) {
        for (const auto& t : ct)
          if (t.value("name", "") == "default") spec.chat_template = t.value("template", "");
        if (spec.chat_template.empty() && !ct.empty()) spec.chat_template = ct[0].value("template", "");
      }
    }
    const std::string jinja = (fs::path(dir) / "chat_template.jinja").string();
    if (spec.chat_template.empty() && fs::exists(jinja)) spec.chat_template = read_file(jinja);

    // End of generation: eos, generation_config.json's eos_token_id (int or list), and the
    // end-of-turn tokens the vocabulary has.
    if (spec.eos_id >= 0) spec.eos_ids.push_back(spec.eos_id);
    const std::string gen = (fs::path(dir) / "generation_config.json").string();
    if (fs::exists(gen)) {
      json g = read_json(gen);
      if (g.contains("eos_token_id")) {
        const json& e = g["eos_token_id"];
        if (e.is_number_integer()) spec.eos_ids.push_back(e.get<int32_t>());
        else if (e.is_array())
          for (const auto& x : e)
            if (x.is_number_integer()) spec.eos_ids.push_back(x.get<int32_t>());
      }
    }
    add_end_of_turn_tokens(spec);
  } catch (const json::exception& e) {
    fail("{}: unexpected structure: {}", path, e.what());
  }
  spec.kind = spec.byte_level ? "bpe (byte-level)"
              : spec.byte_fallback ? "bpe (sentencepiece-style, byte fallback)"
                                   : "bpe";
  return std::make_unique<TextTokenizer>(std::move(spec));
}

}  // namespace ax
