// Private: conversions between UTF-8 and ICU's UTF-16 strings.
#pragma once

#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <string>
#include <string_view>

namespace kiln::text::internal {

inline icu::UnicodeString to_icu(std::string_view s) {
  // fromUTF8 substitutes U+FFFD for ill-formed input
  return icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
}
inline std::string from_icu(const icu::UnicodeString& u) {
  std::string out;
  u.toUTF8String(out);
  return out;
}
inline bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

}  // namespace kiln::text::internal
