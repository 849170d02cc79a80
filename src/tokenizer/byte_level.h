#pragma once
// GPT-2's byte-level alphabet: every byte 0..255 is shown as one printable code point, so a
// byte-level BPE vocabulary is made of printable strings ("Ġthe" is " the"). Printable Latin-1
// bytes map to themselves; the other 68 bytes map to U+0100 upwards in byte order.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ax {

class ByteLevel {
 public:
  static const ByteLevel& get();

  // The UTF-8 encoding of the code point that stands for byte b.
  const std::string& encode_byte(uint8_t b) const { return byte_to_text_[b]; }
  std::string encode(std::string_view bytes) const;
  // Maps a vocabulary string back to bytes; false when it holds a code point outside the alphabet.
  bool decode(std::string_view text, std::string& out) const;

 private:
  ByteLevel();
  std::array<std::string, 256> byte_to_text_;
  std::array<int16_t, 512> cp_to_byte_;  // every alphabet code point is below U+0144
};

}  // namespace ax
