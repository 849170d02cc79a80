#include "format/dtype.h"

#include <array>
#include <cctype>
#include <string>

#include "util/error.h"

namespace ax {
namespace {

struct Entry {
  uint32_t id;
  DTypeInfo info;
};

// Block geometry from the GGML type table (a file-format fact).
constexpr std::array<Entry, 24> kTypes{{
    {0, {"F32", 1, 4, true}},
    {1, {"F16", 1, 2, true}},
    {2, {"Q4_0", 32, 18, true}},
    {3, {"Q4_1", 32, 20, true}},
    {6, {"Q5_0", 32, 22, true}},
    {7, {"Q5_1", 32, 24, true}},
    {8, {"Q8_0", 32, 34, true}},
    {9, {"Q8_1", 32, 36, false}},
    {10, {"Q2_K", 256, 84, true}},
    {11, {"Q3_K", 256, 110, true}},
    {12, {"Q4_K", 256, 144, true}},
    {13, {"Q5_K", 256, 176, true}},
    {14, {"Q6_K", 256, 210, true}},
    {15, {"Q8_K", 256, 292, false}},
    {20, {"IQ4_NL", 32, 18, false}},
    {23, {"IQ4_XS", 256, 136, true}},
    {24, {"I8", 1, 1, false}},
    {25, {"I16", 1, 2, false}},
    {26, {"I32", 1, 4, false}},
    {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, false}},
    {30, {"BF16", 1, 2, true}},
    {39, {"MXFP4", 32, 17, true}},
    {0x10000, {"U8", 1, 1, false}},
}};

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
  if (id == static_cast<uint32_t>(DType::U8)) return std::nullopt;  // not a GGML id
  for (const auto& e : kTypes)
    if (e.id == id) return e.info;
  return std::nullopt;
}

const DTypeInfo& dtype_info(DType t) {
  for (const auto& e : kTypes)
    if (e.id == static_cast<uint32_t>(t)) return e.info;
  fail("internal: dtype id {} has no table entry", static_cast<uint32_t>(t));
}

std::optional<DType> dtype_from_name(std::string_view name) {
  std::string up(name);
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& e : kTypes)
    if (e.info.name == up) return static_cast<DType>(e.id);
  return std::nullopt;
}

}  // namespace ax
