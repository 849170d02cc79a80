// `ax-engine tokenize`: text -> token ids and pieces with the model's own tokenizer.
//
// Works on vocabulary-only GGUF files (only the tokenizer.* metadata is read, no weights) and on
// Hugging Face folders (tokenizer.json + tokenizer_config.json).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "cli/model_arg.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  std::string text_file;
  bool json = false;
  bool no_special = false;        // no BOS/EOS
  bool no_parse_special = false;  // "<|im_start|>" in the text is plain text
};

std::unique_ptr<Tokenizer> open_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::is_directory(path)) return load_tokenizer_hf(path);
  if (!fs::exists(path)) fail("--model: '{}' does not exist", path);
  if (fs::path(path).filename() == "tokenizer.json") return load_tokenizer_hf(fs::path(path).parent_path().string());
  auto gguf = GgufFile::open(path);
  return load_tokenizer(*gguf);
}

// Token text for a terminal: control characters and bytes that are not valid UTF-8 escaped.
std::string printable(const std::string& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<uint8_t>(bytes[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
    else if (c < 0x80) out += static_cast<char>(c);
    else {
      // Keep a complete, valid multi-byte sequence; escape anything else byte by byte.
      size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      bool ok = len > 0 && i + len <= bytes.size();
      for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<uint8_t>(bytes[i + k]) & 0xC0) == 0x80;
      if (ok) {
        out.append(bytes, i, len);
        i += len - 1;
      } else {
        out += fmt::format("\\x{:02x}", c);
      }
    }
  }
  return out;
}

int run_tokenize(const TokenizeOptions& o) {
  std::string text = o.text;
  if (!o.text_file.empty()) {
    std::ifstream f(o.text_file, std::ios::binary);
    if (!f) fail("--text-file: cannot open '{}'", o.text_file);
    std::ostringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  auto tok = open_tokenizer(o.model);
  std::vector<int32_t> ids = tok->encode(text, !o.no_special, !o.no_parse_special);
  if (o.json) {
    nlohmann::json j;
    j["ids"] = ids;
    auto& pieces = j["pieces"] = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(tok->token_piece(id));
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  for (int32_t id : ids) {
    // Pad the piece to 24 characters (code points, not bytes) so the columns line up.
    std::string piece = printable(tok->token_piece(id));
    size_t chars = 0;
    for (char c : piece) chars += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    if (chars < 24) piece.append(24 - chars, ' ');
    std::printf("%8d  %s  '%s'\n", id, piece.c_str(), printable(tok->token_bytes(id)).c_str());
  }
  std::printf("%zu tokens (%s)\n", ids.size(), tok->kind().c_str());
  return 0;
}

const RegisterCommand kTokenize{
    "tokenize", "Tokenize text with a model's tokenizer (GGUF, also vocabulary-only, or HF folder)",
    [](CLI::App& sub) -> CommandRun {
      auto o = std::make_shared<TokenizeOptions>();
      o->model = default_model_path();
      sub.add_option("--model,-m", o->model, "GGUF file, Hugging Face folder or pulled owner/name (default: the bundled model)")
          ->transform(pulled_model_names());
      auto* text = sub.add_option("--text,-t", o->text, "text to tokenize");
      auto* file = sub.add_option("--text-file,-f", o->text_file, "file whose bytes are the text");
      text->excludes(file);
      file->excludes(text);
      sub.add_flag("--json", o->json, R"(print {"ids": [...], "pieces": [...]})");
      sub.add_flag("--no-special", o->no_special, "add no BOS/EOS tokens");
      sub.add_flag("--no-parse-special", o->no_parse_special,
                   "treat special-token text such as <|im_start|> as plain text");
      sub.callback([text, file] {
        if (text->count() == 0 && file->count() == 0) throw CLI::RequiredError("--text or --text-file");
      });
      return [o] { return run_tokenize(*o); };
    }};

}  // namespace
}  // namespace ax::cli
