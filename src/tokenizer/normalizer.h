#pragma once
// Unicode normalization for tokenizer.json normalizers (NFC, NFD, NFKC, NFKD), through ICU.
#include <string>
#include <string_view>

namespace ax {

enum class NormalForm { NFC, NFD, NFKC, NFKD };

// `text` must be valid UTF-8. Text that no form can change (pure ASCII; for NFC/NFD anything
// below U+0300) is returned without calling ICU.
std::string normalize_unicode(std::string_view text, NormalForm form);

}  // namespace ax
