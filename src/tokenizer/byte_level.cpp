#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace ax {

const ByteLevel& ByteLevel::get() {
  static const ByteLevel instance;
  return instance;
}

ByteLevel::ByteLevel() {
  cp_to_byte_.fill(-1);
  auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    uint32_t cp = printable(b) ? static_cast<uint32_t>(b) : static_cast<uint32_t>(next++);
    utf8::append(byte_to_text_[b], cp);
    cp_to_byte_[cp] = static_cast<int16_t>(b);
  }
}

std::string ByteLevel::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += byte_to_text_[static_cast<uint8_t>(c)];
  return out;
}

bool ByteLevel::decode(std::string_view text, std::string& out) const {
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = utf8::decode(text, i);
    if (cp >= cp_to_byte_.size() || cp_to_byte_[cp] < 0) return false;
    out += static_cast<char>(cp_to_byte_[cp]);
  }
  return true;
}

}  // namespace ax
