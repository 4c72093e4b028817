// UTF-8 checking and repair, and reading text files.
//
// Every text entry point of kiln::text takes UTF-8. Invalid input (stray continuation bytes,
// overlong forms, surrogates, code points past U+10FFFF, truncated sequences) is either replaced
// or refused, as the caller chooses: Replace substitutes U+FFFD for each maximal ill-formed
// subsequence (Unicode's "best practice", as ICU and WHATWG do), Refuse throws a DataError that
// names the source and the byte offset of the first bad byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::text {

enum class InvalidUtf8 {
  Replace,  // substitute U+FFFD (EF BF BD)
  Refuse,   // throw DataError("<source>: invalid UTF-8 at byte offset N (byte 0xXX)")
};

// Byte offset of the first ill-formed byte, or nothing when s is valid UTF-8.
std::optional<size_t> find_invalid_utf8(std::string_view s);

// s itself when valid; otherwise repaired (Replace) or refused (Refuse) as above. `source` names
// the input in the error message (a file name, "stdin", ...).
std::string to_valid_utf8(std::string_view s, InvalidUtf8 policy = InvalidUtf8::Replace,
                          std::string_view source = "input");

// The whole file as valid UTF-8 (a leading byte-order mark is dropped). DataError when the file
// cannot be read, or (Refuse) holds invalid UTF-8, with the file name and byte offset.
std::string read_text_file(const std::string& path, InvalidUtf8 policy = InvalidUtf8::Replace);

// Decodes the code point starting at s[i] of valid UTF-8 and advances i past it.
char32_t decode_utf8(std::string_view s, size_t& i);
// Appends the UTF-8 encoding of code point c.
void append_utf8(std::string& out, char32_t c);
// Number of code points in valid UTF-8.
size_t count_code_points(std::string_view s);

}  // namespace kiln::text
