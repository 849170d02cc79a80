#pragma once
// Numeric keywords (minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf) enforced
// digit by digit. Every number the automaton writes under a range has at most 15 integer and 15
// fraction digits and no exponent, so its value is an exact integer count of 10^-15 (10^0 for
// "integer") below 10^30: 128-bit arithmetic decides everything exactly, with no rounding.
//
// The set of values a number prefix can still become is a union of at most 16 intervals (one per
// count of integer digits still to come), so "can this prefix still end in range?" is a few
// interval checks per byte.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ax::server {

using i128 = __int128;

// Digits the automaton allows in a number's integer and fraction parts.
inline constexpr int kMaxIntegerDigits = 15, kMaxFractionDigits = 15;

struct NumericRange {
  bool integer = false;      // values count units (10^0), else 10^-15
  bool constrained = false;  // any bound or multiple: the automaton tracks digits and forbids exponents
  i128 lo = 0, hi = 0;       // inclusive, in units; only meaningful with has_lo / has_hi
  bool has_lo = false, has_hi = false;
  i128 multiple = 0;         // > 0: values must be multiples of this many units

  int scale_digits() const { return integer ? 0 : kMaxFractionDigits; }
  // Some number the automaton may write lies in the range.
  bool satisfiable() const;
  // Tightens this range by another (allOf); false if their multiples cannot be combined exactly.
  bool intersect(const NumericRange& other);
};

// Reads minimum/maximum/exclusive*/multipleOf of a schema object into range (which says whether
// it is for an integer). Throws ApiError naming where.keyword for a value it cannot take.
void read_numeric_keywords(const nlohmann::json& schema, const std::string& where, NumericRange& range);

// A number as far as it has been written: sign, integer digits, and fraction digits once the
// point has been seen. State of the automaton's number frame.
struct NumberPrefix {
  bool negative = false;
  bool has_digits = false;     // at least one integer digit
  uint64_t int_value = 0;
  int int_digits = 0;
  bool has_point = false;
  uint64_t frac_value = 0;
  int frac_digits = 0;
};

// Some completion of prefix (within the digit limits) lies in range.
bool range_reachable(const NumericRange& range, const NumberPrefix& prefix);
// The prefix, ended here, is a number in range (it must have a digit after any point).
bool range_contains(const NumericRange& range, const NumberPrefix& prefix);

}  // namespace ax::server
