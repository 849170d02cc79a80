#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>

#include "util/error.h"

namespace ax {

const char* const kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Patterns as the models' tokenizer.json files spell them.
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen35Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kTekkenRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt4oRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kDeepseek3Regex =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Per-thread JIT stack: patterns like \s+(?!\S) over a long whitespace run need more than
// PCRE2's 32 KiB default.
struct MatchEnv {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* ctx = nullptr;
  MatchEnv() {
    stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~MatchEnv() {
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
  }
};

MatchEnv& match_env() {
  thread_local MatchEnv env;
  return env;
}

}  // namespace

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(const std::vector<std::string>& patterns) : patterns_(patterns) {
  for (const auto& p : patterns_) {
    int err = 0;
    PCRE2_SIZE erroff = 0;
    auto c = std::make_unique<Compiled>();
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                            PCRE2_UTF | PCRE2_UCP, &err, &erroff, nullptr);
    if (!c->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fail("pre-tokenizer regex '{}' does not compile at offset {}: {}", p, erroff,
           reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT fails
    compiled_.push_back(std::move(c));
  }
}

RegexSplitter::RegexSplitter() = default;
RegexSplitter::~RegexSplitter() = default;
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  if (compiled_.empty()) {
    out.push_back(text);
    return;
  }
  MatchEnv& env = match_env();
  std::vector<std::string_view> cur{text}, next;
  for (size_t r = 0; r < compiled_.size(); ++r) {
    pcre2_code* code = compiled_[r]->code;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    next.clear();
    for (std::string_view piece : cur) {
      auto subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t pos = 0, gap_start = 0;
      while (pos < piece.size()) {
        int rc = pcre2_match(code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK, md, env.ctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          pcre2_match_data_free(md);
          PCRE2_UCHAR msg[256];
          pcre2_get_error_message(rc, msg, sizeof msg);
          fail("pre-tokenizer regex '{}' failed on a {}-byte piece: {}", patterns_[r],
               piece.size(), reinterpret_cast<const char*>(msg));
        }
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t b = ov[0], e = ov[1];
        if (e == b) {  // empty match: step over one character
          pos = b + 1;
          while (pos < piece.size() && (static_cast<uint8_t>(piece[pos]) & 0xC0) == 0x80) ++pos;
          continue;
        }
        if (b > gap_start) next.push_back(piece.substr(gap_start, b - gap_start));
        next.push_back(piece.substr(b, e - b));
        gap_start = pos = e;
      }
      if (gap_start < piece.size()) next.push_back(piece.substr(gap_start));
    }
    pcre2_match_data_free(md);
    cur.swap(next);
  }
  out.insert(out.end(), cur.begin(), cur.end());
}

std::vector<std::string> pre_tokenizer_regexes(const std::string& pre) {
  using V = std::vector<std::string>;
  static const std::map<std::string, V> table = [] {
    std::map<std::string, V> t;
    for (const char* n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe",
                          "chatglm-bpe"})
      t[n] = {kLlama3Regex};
    for (const char* n : {"qwen2", "stablelm2", "hunyuan", "megrez"}) t[n] = {kQwen2Regex};
    t["qwen35"] = {kQwen35Regex};
    for (const char* n : {"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "trillion",
                          "roberta-bpe", "granite-docling"})
      t[n] = {kGpt2Regex};
    for (const char* n : {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                          "minerva-7b"})
      t[n] = {R"(\p{N})", kGpt2Regex};
    t["tekken"] = {kTekkenRegex};
    for (const char* n : {"gpt-4o", "minimax-m2", "llama4"}) t[n] = {kGpt4oRegex};
    for (const char* n : {"deepseek-v3", "hunyuan-dense"})
      t[n] = {R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+", kDeepseek3Regex};
    // Gemma 4 runs BPE over whole lines (spaces already turned into U+2581).
    t["gemma4"] = {R"([^\n]+|[\n]+)"};
    // llama.cpp's fallback for BPE vocabularies that name no pre-tokenizer.
    t["default"] = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    return t;
  }();
  auto it = table.find(pre.empty() ? std::string("default") : pre);
  if (it == table.end()) fail("unknown pre-tokenizer '{}' (tokenizer.ggml.pre)", pre);
  return it->second;
}

}  // namespace ax
