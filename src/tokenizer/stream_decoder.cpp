// StreamDecoder: incremental detokenization for streaming output. Bytes of a character that is
// split across tokens wait in pending_ until the character is complete; bytes that can never
// become valid UTF-8 (a stray continuation byte, a sequence cut off by another character) come
// out as U+FFFD, so the emitted text is always valid UTF-8 and no valid byte is ever dropped.
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace ax {

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special)
    : tok_(tok), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tok_.is_special(id)) return {};
  std::string b = tok_.token_bytes(id);
  if (first_ && !b.empty()) {
    if (tok_.decode_strips_leading_space() && b[0] == ' ') b.erase(0, 1);
    first_ = false;
  }
  pending_ += b;
  size_t n = utf8::complete_prefix(pending_);
  if (n == 0) return {};
  std::string out = utf8::sanitize(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8::sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace ax
