#include "server/numeric_range.h"

#include <algorithm>

#include "server/api_error.h"

namespace ax::server {
namespace {

using nlohmann::json;

// Beyond any value the automaton can write (< 10^30 units), so a bound this far out constrains nothing.
const i128 kFar = [] {
  i128 x = 1;
  for (int i = 0; i < 31; ++i) x *= 10;
  return x;
}();

i128 pow10(int n) {
  i128 x = 1;
  for (int i = 0; i < n; ++i) x *= 10;
  return x;
}

i128 floor_div(i128 a, i128 b) {  // b > 0
  i128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
i128 ceil_div(i128 a, i128 b) {  // b > 0
  i128 q = a / b;
  return (a % b != 0 && a > 0) ? q + 1 : q;
}

i128 gcd(i128 a, i128 b) {
  while (b != 0) {
    i128 t = a % b;
    a = b;
    b = t;
  }
  return a < 0 ? -a : a;
}

// A JSON number's exact decimal value: (-1)^negative * digits * 10^exponent. The text is
// nlohmann's dump: integers exactly, doubles as the shortest text that reads back the same.
struct Decimal {
  bool negative = false;
  std::string digits;  // no leading zeros; empty for zero
  int exponent = 0;
};

Decimal to_decimal(const json& v) {
  Decimal d;
  const std::string text = v.dump();
  size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    d.negative = true;
    ++i;
  }
  bool after_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      if (!d.digits.empty() || c != '0') d.digits += c;  // leading zeros carry no value
      if (after_point) --d.exponent;
    } else if (c == '.') {
      after_point = true;
    } else if (c == 'e' || c == 'E') {
      d.exponent += std::stoi(text.substr(i + 1));
      break;
    }
  }
  if (d.digits.empty()) d.negative = false;
  return d;
}

enum class Round { Down, Up };

// value * 10^scale rounded to an integer (Down: toward -inf, Up: toward +inf), clamped to +-kFar.
i128 scaled(const Decimal& d, int scale, Round round) {
  if (d.digits.empty()) return 0;
  const int int_len = static_cast<int>(d.digits.size()) + d.exponent + scale;  // digits before the point
  if (int_len > 31) return d.negative ? -kFar : kFar;
  i128 n = 0;
  for (int i = 0; i < int_len; ++i) n = n * 10 + (i < static_cast<int>(d.digits.size()) ? d.digits[i] - '0' : 0);
  bool fraction = false;
  for (int i = std::max(0, int_len); i < static_cast<int>(d.digits.size()); ++i) fraction |= d.digits[i] != '0';
  if (d.negative) n = -n;
  if (fraction && round == Round::Down && d.negative) n -= 1;
  if (fraction && round == Round::Up && !d.negative) n += 1;
  return n;
}

// p with its factors 2 and 5 removed, each at most t times: p / gcd(p, 10^t).
i128 strip_pow10_factors(i128 p, int t) {
  for (int i = 0; i < t && p % 2 == 0; ++i) p /= 2;
  for (int i = 0; i < t && p % 5 == 0; ++i) p /= 5;
  return p;
}

// A multipleOf value p * 10^-t as the units it spans. For integers: x is a multiple of p * 10^-t
// iff x * 10^t is a multiple of p, i.e. iff x is a multiple of p / gcd(p, 10^t).
i128 multiple_units(const Decimal& d, int scale, const std::string& where) {
  if (d.digits.empty() || d.negative) bad_param(where, "must be a number greater than 0");
  if (static_cast<int>(d.digits.size()) + d.exponent + scale > 30) bad_param(where, "is too large to enforce");
  if (d.digits.size() > 30) bad_param(where, "has too many digits to enforce");
  i128 p = 0;
  for (char c : d.digits) p = p * 10 + (c - '0');
  if (d.exponent >= 0) return p * pow10(d.exponent + scale);
  const int t = -d.exponent;
  if (scale == 0) return strip_pow10_factors(p, t);
  if (t > scale) bad_param(where, "has more than {} decimal places, which numbers here cannot match exactly", scale);
  return p * pow10(scale - t);
}

// Some multiple of m (or any value when m == 0) in [a, b].
bool hits(i128 a, i128 b, i128 m) {
  if (a > b) return false;
  if (m <= 0) return true;
  return floor_div(b, m) >= ceil_div(a, m);
}

// Some value in [a, b] (signed units) meets the range.
bool meets(const NumericRange& r, i128 a, i128 b) {
  if (r.has_lo) a = std::max(a, r.lo);
  if (r.has_hi) b = std::min(b, r.hi);
  return hits(a, b, r.multiple);
}

bool meets_magnitudes(const NumericRange& r, bool negative, i128 a, i128 b) {
  return negative ? meets(r, -b, -a) : meets(r, a, b);
}

}  // namespace

bool NumericRange::satisfiable() const {
  const i128 top = pow10(kMaxIntegerDigits + scale_digits()) - 1;
  return meets(*this, -top, top);
}

bool NumericRange::intersect(const NumericRange& o) {
  if (o.integer && !integer) {
    // Into integer units: bounds rounded inward, a multiple of m units of 10^-15 becomes
    // m / gcd(m, 10^15) integers.
    const i128 unit = pow10(kMaxFractionDigits);
    if (has_lo) lo = ceil_div(lo, unit);
    if (has_hi) hi = floor_div(hi, unit);
    if (multiple > 0) multiple = multiple / gcd(multiple, unit);
    integer = true;
  }
  NumericRange b = o;
  if (integer && !b.integer) {
    const i128 unit = pow10(kMaxFractionDigits);
    if (b.has_lo) b.lo = ceil_div(b.lo, unit);
    if (b.has_hi) b.hi = floor_div(b.hi, unit);
    if (b.multiple > 0) b.multiple = b.multiple / gcd(b.multiple, unit);
  }
  if (b.has_lo) lo = has_lo ? std::max(lo, b.lo) : b.lo;
  if (b.has_hi) hi = has_hi ? std::min(hi, b.hi) : b.hi;
  has_lo |= b.has_lo;
  has_hi |= b.has_hi;
  if (b.multiple > 0) {
    if (multiple > 0) {
      const i128 g = gcd(multiple, b.multiple);
      if (multiple / g > kFar / b.multiple) return false;
      multiple = multiple / g * b.multiple;
    } else {
      multiple = b.multiple;
    }
  }
  constrained |= b.constrained;
  return true;
}

void read_numeric_keywords(const json& s, const std::string& where, NumericRange& r) {
  const int scale = r.scale_digits();
  auto number = [&](const char* key) -> const json& {
    const json& v = s[key];
    if (!v.is_number()) bad_param(where + "." + key, "must be a number");
    return v;
  };
  // Draft 4 wrote exclusiveMinimum/exclusiveMaximum as booleans that modify minimum/maximum.
  auto flag = [&](const char* key) { return s.contains(key) && s[key].is_boolean() && s[key].get<bool>(); };
  auto lower = [&](const json& v, bool exclusive) {
    Decimal d = to_decimal(v);
    i128 x = exclusive ? scaled(d, scale, Round::Down) + 1 : scaled(d, scale, Round::Up);
    r.lo = r.has_lo ? std::max(r.lo, x) : x;
    r.has_lo = true;
  };
  auto upper = [&](const json& v, bool exclusive) {
    Decimal d = to_decimal(v);
    i128 x = exclusive ? scaled(d, scale, Round::Up) - 1 : scaled(d, scale, Round::Down);
    r.hi = r.has_hi ? std::min(r.hi, x) : x;
    r.has_hi = true;
  };
  // "> x" is ">= floor(x) + 1 unit" and "< x" is "<= ceil(x) - 1 unit", exact for any x.
  if (s.contains("minimum")) lower(number("minimum"), flag("exclusiveMinimum"));
  if (s.contains("maximum")) upper(number("maximum"), flag("exclusiveMaximum"));
  if (s.contains("exclusiveMinimum") && !s["exclusiveMinimum"].is_boolean()) lower(number("exclusiveMinimum"), true);
  if (s.contains("exclusiveMaximum") && !s["exclusiveMaximum"].is_boolean()) upper(number("exclusiveMaximum"), true);
  if (s.contains("multipleOf")) r.multiple = multiple_units(to_decimal(number("multipleOf")), scale, where + ".multipleOf");
  r.constrained = r.has_lo || r.has_hi || r.multiple > 0;
}

bool range_reachable(const NumericRange& r, const NumberPrefix& p) {
  if (!r.constrained) return true;
  const int s = r.scale_digits();
  const i128 unit = pow10(s);
  if (!p.has_digits) {
    // Only a sign so far (or nothing): any magnitude of the allowed size.
    const i128 top = pow10(kMaxIntegerDigits + s) - 1;
    return p.negative ? meets(r, -top, 0) : meets(r, -top, top);
  }
  const i128 v = static_cast<i128>(p.int_value);
  if (p.has_point) {
    // v.f...: the fraction's remaining digits span one step of its last digit.
    if (p.frac_digits == 0) return meets_magnitudes(r, p.negative, v * unit, (v + 1) * unit - 1);
    const i128 step = pow10(s - p.frac_digits);
    const i128 base = v * unit + static_cast<i128>(p.frac_value) * step;
    return meets_magnitudes(r, p.negative, base, base + step - 1);
  }
  if (v == 0) return meets_magnitudes(r, p.negative, 0, unit - 1);  // "0" takes no more integer digits
  // k more integer digits, then any fraction.
  for (int k = 0; p.int_digits + k <= kMaxIntegerDigits; ++k) {
    const i128 w = pow10(k);
    if (meets_magnitudes(r, p.negative, v * w * unit, (v + 1) * w * unit - 1)) return true;
  }
  return false;
}

bool range_contains(const NumericRange& r, const NumberPrefix& p) {
  if (!r.constrained) return true;
  if (!p.has_digits || (p.has_point && p.frac_digits == 0)) return false;
  const int s = r.scale_digits();
  i128 x = static_cast<i128>(p.int_value) * pow10(s);
  if (p.has_point) x += static_cast<i128>(p.frac_value) * pow10(s - p.frac_digits);
  if (p.negative) x = -x;
  return meets(r, x, x);
}

}  // namespace ax::server
