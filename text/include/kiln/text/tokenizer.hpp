// Tokenizers: one interface, text in, tokens (with byte offsets into the input) out.
//
//   auto tok = text::make_tokenizer("word");            // ICU word boundaries (UAX #29)
//   for (auto& t : tok->tokenize_with_offsets("他来到了网易杭研大厦")) ...  // dictionary segmentation
//
// Names accepted by make_tokenizer (also `kiln tokenize --tokenizer NAME`):
//   basic_english   torchtext's rules: lower-case, split off ' . , ( ) ! ? , drop " ; : and <br />
//   whitespace      runs of non-White_Space characters
//   word[:LOCALE]   ICU word break iterator (UAX #29 plus dictionaries for Chinese, Japanese, Thai,
//                   Lao, Khmer, Burmese); whitespace and punctuation are dropped
//   word_punct[:LOCALE]  the same, keeping punctuation as tokens (whitespace dropped)
//   char            extended grapheme clusters (UAX #29): "e\u0301" and "👍🏽" are one token each
//   regex:PATTERN   ICU regular expression; each match is a token
//   bpe:FILE        a byte-level BPE model saved by ByteBPE::save (see bpe.hpp)
// Every tokenizer is thread-safe: one instance may serve several DataLoader workers.
// Input is UTF-8; invalid bytes are treated as U+FFFD by the ICU-based tokenizers (run
// to_valid_utf8 first to choose between replacing and refusing).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::text {

struct Token {
  std::string text;  // the token (may differ from the input span: basic_english lower-cases)
  size_t begin = 0;  // byte offsets of the span in the input: [begin, end)
  size_t end = 0;
  bool operator==(const Token&) const = default;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual std::vector<Token> tokenize_with_offsets(std::string_view text) const = 0;
  // Just the token strings (may be faster than tokenize_with_offsets).
  virtual std::vector<std::string> tokenize(std::string_view text) const;
  // Calls fn(token_text) for each token without building a vector (the fastest path).
  virtual void for_each_token(std::string_view text, const std::function<void(std::string_view)>& fn) const;
  // True when detokenize(tokenize(s)) == s for every valid UTF-8 s (char and bpe).
  virtual bool lossless() const { return false; }
  // Text from tokens: concatenation for lossless tokenizers, tokens joined by one space otherwise.
  virtual std::string detokenize(const std::vector<std::string>& tokens) const;
};
using TokenizerPtr = std::shared_ptr<const Tokenizer>;

class BasicEnglishTokenizer : public Tokenizer {
 public:
  std::string name() const override { return "basic_english"; }
  std::vector<Token> tokenize_with_offsets(std::string_view text) const override;
  void for_each_token(std::string_view text, const std::function<void(std::string_view)>& fn) const override;
};

class WhitespaceTokenizer : public Tokenizer {
 public:
  std::string name() const override { return "whitespace"; }
  std::vector<Token> tokenize_with_offsets(std::string_view text) const override;
  void for_each_token(std::string_view text, const std::function<void(std::string_view)>& fn) const override;
};

struct WordTokenizerOptions {
  std::string locale;              // "" = root; affects only a few languages' rules
  bool keep_punctuation = false;   // keep non-word segments other than whitespace
};
class WordTokenizer : public Tokenizer {
 public:
  explicit WordTokenizer(WordTokenizerOptions options = {});
  ~WordTokenizer() override;
  std::string name() const override;
  std::vector<Token> tokenize_with_offsets(std::string_view text) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  WordTokenizerOptions options_;
};

class CharacterTokenizer : public Tokenizer {
 public:
  CharacterTokenizer();
  ~CharacterTokenizer() override;
  std::string name() const override { return "char"; }
  std::vector<Token> tokenize_with_offsets(std::string_view text) const override;
  bool lossless() const override { return true; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class RegexTokenizer : public Tokenizer {
 public:
  // ValueError naming the pattern and ICU's error (with its offset) when it does not compile.
  explicit RegexTokenizer(const std::string& pattern);
  ~RegexTokenizer() override;
  std::string name() const override { return "regex:" + pattern_; }
  std::vector<Token> tokenize_with_offsets(std::string_view text) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_;
};

// A tokenizer by name (see the list above); ValueError for an unknown name.
TokenizerPtr make_tokenizer(const std::string& name);
// The names make_tokenizer accepts without an argument.
std::vector<std::string> tokenizer_names();

}  // namespace kiln::text
