#include <kiln/error.hpp>
#include <kiln/text/tokenizer.hpp>

#include <gtest/gtest.h>

#include <thread>

using namespace kiln;
using namespace kiln::text;
using Strings = std::vector<std::string>;

TEST(BasicEnglish, MatchesTorchtextRules) {
  BasicEnglishTokenizer tok;
  // expected values: torchtext 0.14 basic_english's regex table run in Python on the same strings
  EXPECT_EQ(tok.tokenize("You can now install TorchText using pip!"),
            (Strings{"you", "can", "now", "install", "torchtext", "using", "pip", "!"}));
  EXPECT_EQ(tok.tokenize("Don't say \"no\"; (really), ok?<br />Next:line."),
            (Strings{"don", "'", "t", "say", "no", "(", "really", ")", ",", "ok", "?", "next", "line", "."}));
  EXPECT_EQ(tok.tokenize("a\"b c<BR />d"), (Strings{"ab", "c", "d"}));  // " joins, <br /> after lower-casing
  EXPECT_EQ(tok.tokenize("ÉCOLE\xC2\xA0Straße ΟΔΟΣ"), (Strings{"école", "straße", "οδος"}));
  EXPECT_TRUE(tok.tokenize("  \t\n").empty());
}

TEST(BasicEnglish, OffsetsPointIntoTheInput) {
  BasicEnglishTokenizer tok;
  std::string s = "Hi, É!";
  auto t = tok.tokenize_with_offsets(s);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0], (Token{"hi", 0, 2}));
  EXPECT_EQ(t[1], (Token{",", 2, 3}));
  EXPECT_EQ(t[2], (Token{"é", 4, 6}));
  EXPECT_EQ(t[3], (Token{"!", 6, 7}));
}

TEST(Whitespace, SplitsOnUnicodeWhiteSpace) {
  WhitespaceTokenizer tok;
  auto t = tok.tokenize_with_offsets("  a\xE3\x80\x80" "bc\tdé ");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], (Token{"a", 2, 3}));
  EXPECT_EQ(t[1], (Token{"bc", 6, 8}));
  EXPECT_EQ(t[2], (Token{"dé", 9, 12}));
  EXPECT_EQ(tok.detokenize({"a", "b"}), "a b");
}

TEST(WordTokenizer, Uax29Boundaries) {
  WordTokenizer tok;
  EXPECT_EQ(tok.tokenize("Hello, world! It's 3.14 o'clock."),
            (Strings{"Hello", "world", "It's", "3.14", "o'clock"}));
  WordTokenizer punct({.keep_punctuation = true});
  EXPECT_EQ(punct.tokenize("Hi, you!"), (Strings{"Hi", ",", "you", "!"}));
  auto t = tok.tokenize_with_offsets("née à");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1], (Token{"à", 5, 7}));
}

TEST(WordTokenizer, DictionarySegmentationForChineseJapaneseThai) {
  WordTokenizer tok;
  // No spaces in any of these: the words come from ICU's dictionaries.
  EXPECT_EQ(tok.tokenize("我喜欢吃苹果"), (Strings{"我", "喜欢", "吃", "苹果"}));
  EXPECT_EQ(tok.tokenize("สวัสดีครับ"), (Strings{"สวัสดี", "ครับ"}));
  Strings ja = tok.tokenize("東京都に住んでいます");
  ASSERT_GE(ja.size(), 3u);
  EXPECT_EQ(ja[0], "東京");
  std::string joined;
  for (auto& w : ja) joined += w;
  EXPECT_EQ(joined, "東京都に住んでいます");
}

TEST(CharacterTokenizer, GraphemeClustersNotBytes) {
  CharacterTokenizer tok;
  // e + combining acute, a thumbs-up with skin tone, a family emoji (ZWJ sequence), a flag, Hangul jamo
  std::string s = "e\xCC\x81" "👍🏽" "👨‍👩‍👧" "🇫🇷" "\xE1\x84\x80\xE1\x85\xA1" "x";
  Strings t = tok.tokenize(s);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t[0], "e\xCC\x81");
  EXPECT_EQ(t[1], "👍🏽");
  EXPECT_EQ(t[2], "👨‍👩‍👧");
  EXPECT_EQ(t[3], "🇫🇷");
  EXPECT_EQ(t[5], "x");
  EXPECT_TRUE(tok.lossless());
  EXPECT_EQ(tok.detokenize(t), s);
  EXPECT_EQ(tok.tokenize_with_offsets("ab")[1], (Token{"b", 1, 2}));
}

TEST(RegexTokenizer, MatchesAreTokens) {
  RegexTokenizer tok("\\p{L}+|\\p{N}+");
  auto t = tok.tokenize_with_offsets("Größe: 42cm");
  ASSERT_EQ(t.size(), 3u);  // "Größe", "42", "cm": letters and digits are separate runs
  EXPECT_EQ(t[0], (Token{"Größe", 0, 7}));
  EXPECT_EQ(t[1], (Token{"42", 9, 11}));
  EXPECT_EQ(t[2], (Token{"cm", 11, 13}));
  EXPECT_THROW(RegexTokenizer("(unclosed"), ValueError);
}

TEST(Tokenizers, FactoryAndThreadSafety) {
  for (const auto& name : tokenizer_names()) EXPECT_NE(make_tokenizer(name), nullptr) << name;
  EXPECT_EQ(make_tokenizer("word:th")->name(), "word:th");
  EXPECT_THROW(make_tokenizer("nonsense"), ValueError);
  auto tok = make_tokenizer("word");
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int i = 0; i < 200; ++i) ok[k] += tok->tokenize("one two three 我喜欢吃苹果") == Strings{"one", "two", "three", "我", "喜欢", "吃", "苹果"};
    });
  for (auto& t : threads) t.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(ok[k], 200);
}
