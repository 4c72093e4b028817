// The Tokenizer base, the factory, and the two tokenizers that need no ICU state: basic_english
// and whitespace. Both are hand-written byte scanners (see Note [basic_english without regexes]).
#include "icu_util.hpp"

#include <kiln/error.hpp>
#include <kiln/text/bpe.hpp>
#include <kiln/text/normalize.hpp>
#include <kiln/text/tokenizer.hpp>
#include <kiln/text/utf8.hpp>

#include <cstring>

namespace kiln::text {

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for_each_token(text, [&](std::string_view t) { out.emplace_back(t); });
  return out;
}

void Tokenizer::for_each_token(std::string_view text, const std::function<void(std::string_view)>& fn) const {
  for (const Token& t : tokenize_with_offsets(text)) fn(t.text);
}

std::string Tokenizer::detokenize(const std::vector<std::string>& tokens) const {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i && !lossless()) out += ' ';
    out += tokens[i];
  }
  return out;
}

namespace {

// White space as Python's str.isspace() defines it (what torchtext's `\s+` and str.split() use).
inline bool is_python_space(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// Note [basic_english without regexes]
// torchtext's basic_english lower-cases the line, then applies twelve regex substitutions in turn
// (' -> " ' ", " -> "", . , ( ) ! ? -> " x ", <br /> ; : -> " ") and splits on white space. The
// scanner below produces the same tokens in one pass: ' . , ( ) ! ? end the current token and are
// tokens themselves, ; : white space and "<br />" end the current token, and " is dropped without
// ending it ("a"b" is the token "ab"). Lower-casing is ASCII inline and ICU's full lower-casing for
// tokens with other characters (Python's str.lower() uses the same SpecialCasing data).
template <typename Emit>
void scan_basic_english(std::string_view s, Emit&& emit) {
  std::string buf;
  size_t tok_begin = 0, tok_end = 0;
  bool non_ascii = false;
  auto flush = [&]() {
    if (buf.empty()) return;
    if (non_ascii) buf = to_lower(buf);
    emit(std::string_view(buf), tok_begin, tok_end);
    buf.clear();
    non_ascii = false;
  };
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      switch (b) {
        case '\'': case '.': case ',': case '(': case ')': case '!': case '?': {
          flush();
          char c = static_cast<char>(b);
          emit(std::string_view(&c, 1), i, i + 1);
          ++i;
          continue;
        }
        case '"':
          ++i;
          continue;
        case ';': case ':': case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
        case 0x1C: case 0x1D: case 0x1E: case 0x1F:
          flush();
          ++i;
          continue;
        case '<':
          if (i + 6 <= n && (p[i + 1] | 0x20) == 'b' && (p[i + 2] | 0x20) == 'r' && p[i + 3] == ' ' && p[i + 4] == '/' &&
              p[i + 5] == '>') {
            flush();
            i += 6;
            continue;
          }
          break;
        default:
          break;
      }
      if (buf.empty()) tok_begin = i;
      buf += static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b);
      tok_end = ++i;
      continue;
    }
    size_t start = i;
    char32_t c = decode_utf8(s, i);
    if (is_python_space(c)) {
      flush();
      continue;
    }
    if (buf.empty()) tok_begin = start;
    buf.append(s.data() + start, i - start);
    tok_end = i;
    non_ascii = true;
  }
  flush();
}

template <typename Emit>
void scan_whitespace(std::string_view s, Emit&& emit) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, begin = 0;
  bool in_token = false;
  const size_t n = s.size();
  while (i < n) {
    size_t start = i;
    bool space;
    if (p[i] < 0x80) {
      unsigned char b = p[i++];
      space = b == ' ' || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F);
    } else {
      space = is_python_space(decode_utf8(s, i));
    }
    if (space) {
      if (in_token) emit(s.substr(begin, start - begin), begin, start);
      in_token = false;
    } else if (!in_token) {
      in_token = true;
      begin = start;
    }
  }
  if (in_token) emit(s.substr(begin), begin, n);
}

}  // namespace

std::vector<Token> BasicEnglishTokenizer::tokenize_with_offsets(std::string_view text) const {
  std::vector<Token> out;
  scan_basic_english(text, [&](std::string_view t, size_t b, size_t e) { out.push_back({std::string(t), b, e}); });
  return out;
}
void BasicEnglishTokenizer::for_each_token(std::string_view text, const std::function<void(std::string_view)>& fn) const {
  scan_basic_english(text, [&](std::string_view t, size_t, size_t) { fn(t); });
}

std::vector<Token> WhitespaceTokenizer::tokenize_with_offsets(std::string_view text) const {
  std::vector<Token> out;
  scan_whitespace(text, [&](std::string_view t, size_t b, size_t e) { out.push_back({std::string(t), b, e}); });
  return out;
}
void WhitespaceTokenizer::for_each_token(std::string_view text, const std::function<void(std::string_view)>& fn) const {
  scan_whitespace(text, [&](std::string_view t, size_t, size_t) { fn(t); });
}

// ---------------------------------------------------------------- factory
TokenizerPtr make_tokenizer(const std::string& name) {
  if (name == "basic_english") return std::make_shared<BasicEnglishTokenizer>();
  if (name == "whitespace") return std::make_shared<WhitespaceTokenizer>();
  if (name == "char" || name == "character" || name == "grapheme") return std::make_shared<CharacterTokenizer>();
  if (name == "word" || name.rfind("word:", 0) == 0)
    return std::make_shared<WordTokenizer>(WordTokenizerOptions{.locale = name.size() > 5 ? name.substr(5) : ""});
  if (name == "word_punct" || name.rfind("word_punct:", 0) == 0)
    return std::make_shared<WordTokenizer>(
        WordTokenizerOptions{.locale = name.size() > 11 ? name.substr(11) : "", .keep_punctuation = true});
  if (name.rfind("regex:", 0) == 0) return std::make_shared<RegexTokenizer>(name.substr(6));
  if (name.rfind("bpe:", 0) == 0) return std::make_shared<ByteBPE>(ByteBPE::load(name.substr(4)));
  throw ValueError("unknown tokenizer '" + name +
                   "' (expected basic_english, whitespace, word[:LOCALE], word_punct[:LOCALE], char, regex:PATTERN "
                   "or bpe:FILE)");
}

std::vector<std::string> tokenizer_names() { return {"basic_english", "whitespace", "word", "word_punct", "char"}; }

}  // namespace kiln::text
