// libFuzzer target: the tokenizers on untrusted text and ids, with two small real vocabularies:
// stories260K (SentencePiece from GGUF, 512 tokens) and ax-code-15m (byte-level BPE from
// tokenizer.json). Build and run with scripts/fuzz.sh tokenizer.
//
// Input: byte 0 picks the mode, the rest is the text (or ids):
//   bit 0      vocabulary: 0 stories260K, 1 ax-code-15m
//   bit 1      parse_special    bit 2  add_special
//   bit 3      the rest is token ids (2 bytes each, little-endian, taken modulo the vocabulary)
// Text: encode() must throw ax::Error exactly when the text is not valid UTF-8 (checked here by an
// independent decoder), return in-range ids otherwise, and decode them back to the text (NFC for
// tokenizer.json's normalizer; SentencePiece writes spaces as U+2581, so a literal U+2581 comes
// back as a space). Ids: decode() works, and StreamDecoder emits only valid UTF-8 that adds up to
// decode(ids, skip_special) once its partial characters are replaced. Anything else (a crash, a
// sanitizer report, an uncaught exception) is a bug.
//
// fuzz-sources: src/tokenizer/added_tokens.cpp src/tokenizer/bpe.cpp src/tokenizer/byte_level.cpp
// fuzz-sources: src/tokenizer/eos_detect.cpp src/tokenizer/load_gguf.cpp src/tokenizer/load_hf.cpp
// fuzz-sources: src/tokenizer/normalizer.cpp src/tokenizer/pre_tokenizer.cpp src/tokenizer/spm.cpp
// fuzz-sources: src/tokenizer/stream_decoder.cpp src/tokenizer/text_tokenizer.cpp
// fuzz-sources: src/tokenizer/utf8.cpp src/tokenizer/word_cache.cpp
// fuzz-sources: src/format/gguf.cpp src/format/dtype.cpp src/util/mapped_file.cpp
// fuzz-seeds: ../shared/models/llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp
// fuzz-seeds: ../shared/models/llamacpp-vocab/ggml-vocab-qwen35.gguf.inp
// fuzz-seeds: tests/tokenizer/data/invalid_utf8.txt tests/tokenizer/data/chat_templates/qwen3.jinja@3000
// fuzz-seeds: src/tokenizer/utf8.cpp@3000
// fuzz-libs: -lpcre2-8 -licuuc -lxxhash
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "format/gguf.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

using namespace ax;

// The repository root: this file is compiled by its absolute path (scripts/fuzz.sh), so __FILE__
// names it; AX_SOURCE_DIR in the environment overrides.
std::string repo_root() {
  if (const char* env = std::getenv("AX_SOURCE_DIR")) return env;
  std::string f = __FILE__;
  f = f.substr(0, f.rfind('/'));  // .../fuzz
  return f.substr(0, f.rfind('/'));
}

struct Vocabularies {
  std::unique_ptr<Tokenizer> spm;
  std::unique_ptr<Tokenizer> bpe;
};

const Vocabularies& vocabularies() {
  static const Vocabularies v = [] {
    const std::string root = repo_root();
    Vocabularies out;
    auto gguf = GgufFile::open(root + "/models/stories260K/stories260K.gguf");
    out.spm = load_tokenizer(*gguf);
    out.bpe = load_tokenizer_hf(root + "/models/ax-code-15m");
    return out;
  }();
  return v;
}

[[noreturn]] void bug(const char* what, std::string_view text) {
  std::fprintf(stderr, "tokenizer_fuzz: %s (input of %zu bytes)\n", what, text.size());
  std::abort();
}

// Strict UTF-8 (RFC 3629), written independently of the tokenizer's own check: shortest form,
// no surrogates, nothing above U+10FFFF, no truncated sequence.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp, min;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      n = 1, cp = b & 0x1F, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2, cp = b & 0x0F, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3, cp = b & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated
    for (size_t k = 1; k <= n; ++k) {
      const uint8_t c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

void fuzz_text(const Tokenizer& tok, bool is_spm, std::string_view text, bool parse_special, bool add_special) {
  std::vector<int32_t> ids;
  const bool valid = valid_utf8(text);
  try {
    ids = tok.encode(text, add_special, parse_special);
  } catch (const Error&) {
    if (valid) bug("encode threw on valid UTF-8", text);
    return;
  }
  if (!valid) bug("encode accepted invalid UTF-8", text);
  for (int32_t id : ids)
    if (id < 0 || id >= tok.vocab_size()) bug("encode returned an id outside the vocabulary", text);

  // Round trip. With special tokens parsed, SentencePiece puts its space prefix after each one
  // (as llama.cpp and tokenizers do), so only the byte-level vocabulary must come back exactly.
  if (add_special || (parse_special && is_spm)) return;
  std::string want = is_spm ? replace_all(std::string(text), "\xE2\x96\x81", " ")
                            : normalize_unicode(text, NormalForm::NFC);
  if (tok.decode(ids) != want) bug("decode(encode(text)) differs from the text", text);
}

void fuzz_ids(const Tokenizer& tok, std::string_view bytes) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) | (static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8);
    ids.push_back(static_cast<int32_t>(v % static_cast<uint32_t>(tok.vocab_size())));
  }
  const std::string whole = tok.decode(ids, /*skip_special=*/true);
  StreamDecoder dec(tok, /*skip_special=*/true);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string piece = dec.push(id);
    if (!valid_utf8(piece)) bug("StreamDecoder emitted invalid UTF-8", bytes);
    streamed += piece;
  }
  const std::string rest = dec.flush();
  if (!valid_utf8(rest)) bug("StreamDecoder::flush emitted invalid UTF-8", bytes);
  streamed += rest;
  // Valid whole text streams out unchanged; otherwise the stream is its repaired form.
  if (valid_utf8(whole) && streamed != whole) bug("streamed text differs from decode()", bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Vocabularies& v = vocabularies();
  const uint8_t mode = data[0];
  const bool is_spm = (mode & 1) == 0;
  const Tokenizer& tok = is_spm ? *v.spm : *v.bpe;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode & 8) fuzz_ids(tok, rest);
  else fuzz_text(tok, is_spm, rest, (mode & 2) != 0, (mode & 4) != 0);
  return 0;
}
