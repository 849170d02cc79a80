#include "tokenizer/normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include "util/error.h"

namespace ax {

std::string normalize_unicode(std::string_view text, NormalForm form) {
  // UTF-8 lead bytes below 0xCC start code points below U+0300: no canonical decomposition and
  // no combining marks there. Compatibility mappings start at U+00A0, so NFKC/NFKD only skip ASCII.
  const uint8_t limit = (form == NormalForm::NFC || form == NormalForm::NFD) ? 0xCC : 0x80;
  bool simple = true;
  for (char c : text) {
    if (static_cast<uint8_t>(c) >= limit) {
      simple = false;
      break;
    }
  }
  if (simple) return std::string(text);
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalForm::NFC: n = icu::Normalizer2::getNFCInstance(status); break;
    case NormalForm::NFD: n = icu::Normalizer2::getNFDInstance(status); break;
    case NormalForm::NFKC: n = icu::Normalizer2::getNFKCInstance(status); break;
    case NormalForm::NFKD: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  if (U_FAILURE(status)) fail("ICU normalizer unavailable: {}", u_errorName(status));
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  if (n->isNormalized(s, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  icu::UnicodeString r = n->normalize(s, status);
  if (U_FAILURE(status)) fail("Unicode normalization failed: {}", u_errorName(status));
  std::string out;
  r.toUTF8String(out);
  return out;
}

}  // namespace ax
