#pragma once
// Base64 (RFC 4648, the standard alphabet with '=' padding): embeddings sent as base64 floats,
// HTTP Basic credentials.
#include <optional>
#include <string>
#include <string_view>

namespace ax {

std::string base64_encode(std::string_view bytes);
// Nothing when `text` is not padded base64 of the standard alphabet.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ax
