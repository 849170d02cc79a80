#pragma once
// JSON Schema "pattern" (an ECMA-262 regular expression) compiled into a ByteDfa over the UTF-8
// bytes of a string's value. As JSON Schema says, a pattern matches anywhere in the string unless
// ^ and $ anchor it.
//
// Supported: literals, ., escapes (\d \D \w \W \s \S \t \n \v \f \r \0 \cX \xHH \uHHHH \u{H..}
// and escaped punctuation), classes [...] and [^...] with ranges, groups (...), (?:...) and
// (?<name>...), alternation |, quantifiers * + ? {n} {n,} {n,m} (lazy forms match the same
// strings), anchors ^ $. Refused with a 400 naming the construct: lookaround, backreferences,
// word boundaries \b \B, Unicode property classes \p{..}, inline flags.
//
// The alphabet is the characters a JSON string can hold as the automaton writes them: every
// Unicode scalar value except the control characters that only a \u escape could write (all of
// U+0000-U+001F but \b \t \n \f \r). A pattern that needs one of those can never be matched.
#include <string>

#include "server/byte_dfa.h"

namespace ax::server {

// Throws ApiError (400) naming param for syntax outside the subset or a pattern too large to
// turn into a DFA.
ByteDfa compile_pattern(const std::string& pattern, const std::string& param);

// The most DFA states a pattern (or an intersection of them) may take.
inline constexpr size_t kMaxPatternStates = 20000;

}  // namespace ax::server
