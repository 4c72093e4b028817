// UTF-8 validation follows Table 3-7 of the Unicode Standard (well-formed byte sequences); the
// replacement policy substitutes one U+FFFD per maximal subpart of an ill-formed sequence.
#include <kiln/error.hpp>
#include <kiln/text/utf8.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

namespace kiln::text {
namespace {

// Length of the well-formed sequence at s[i], or 0 when ill-formed; `bad_len` receives the length
// of the maximal subpart to replace (at least 1).
size_t sequence_length(std::string_view s, size_t i, size_t& bad_len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  unsigned char b0 = p[i];
  bad_len = 1;
  if (b0 < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;        // no overlongs
    else if (b0 == 0xED) hi = 0x9F;   // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    else if (b0 == 0xF4) hi = 0x8F;   // <= U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= n) return 0;
    unsigned char b = p[i + k];
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return 0;
    bad_len = k + 1;
  }
  return len;
}

}  // namespace

std::optional<size_t> find_invalid_utf8(std::string_view s) {
  size_t i = 0, bad = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    // ASCII fast path, 8 bytes at a time
    while (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    size_t len = sequence_length(s, i, bad);
    if (len == 0) return i;
    i += len;
  }
  return std::nullopt;
}

std::string to_valid_utf8(std::string_view s, InvalidUtf8 policy, std::string_view source) {
  std::optional<size_t> first = find_invalid_utf8(s);
  if (!first) return std::string(s);
  if (policy == InvalidUtf8::Refuse) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(s[*first])));
    throw DataError(detail::concat(source, ": invalid UTF-8 at byte offset ", *first, " (byte ", hex, ")"));
  }
  std::string out(s.substr(0, *first));
  out.reserve(s.size() + 16);
  size_t i = *first, bad = 0;
  while (i < s.size()) {
    size_t len = sequence_length(s, i, bad);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      i += bad;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
  return out;
}

std::string read_text_file(const std::string& path, InvalidUtf8 policy) {
  std::ifstream f(path, std::ios::binary);
  KILN_CHECK(f.good(), DataError, path, ": cannot open the file for reading");
  std::ostringstream ss;
  ss << f.rdbuf();
  KILN_CHECK(!f.bad(), DataError, path, ": read error");
  std::string data = std::move(ss).str();
  if (data.size() >= 3 && data.compare(0, 3, "\xEF\xBB\xBF") == 0) data.erase(0, 3);
  if (!find_invalid_utf8(data)) return data;
  return to_valid_utf8(data, policy, path);
}

char32_t decode_utf8(std::string_view s, size_t& i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return s[i++];
  int len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
  char32_t c = b0 & (0x7F >> len);
  for (int k = 1; k < len && i + k < s.size(); ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return c;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

size_t count_code_points(std::string_view s) {
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

}  // namespace kiln::text
