#include <kiln/error.hpp>
#include <kiln/text/normalize.hpp>
#include <kiln/text/utf8.hpp>

#include <gtest/gtest.h>

using namespace kiln;
using namespace kiln::text;

TEST(Utf8, FindsFirstInvalidByte) {
  EXPECT_FALSE(find_invalid_utf8("plain ascii and ünïcödé 中文 👍").has_value());
  EXPECT_EQ(find_invalid_utf8("abc\x80z"), 3u);             // stray continuation byte
  EXPECT_EQ(find_invalid_utf8("ab\xC0\xAF"), 2u);          // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);        // surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);    // > U+10FFFF
  EXPECT_EQ(find_invalid_utf8("0123456789\xE4\xB8"), 10u); // truncated at the end
}

TEST(Utf8, ReplaceSubstitutesOneFffdPerMaximalSubpart) {
  // "\xE4\xB8" is the maximal subpart of a truncated 3-byte sequence: one U+FFFD
  EXPECT_EQ(to_valid_utf8("a\xE4\xB8z"), "a\xEF\xBF\xBDz");
  // two stray continuation bytes: two U+FFFD
  EXPECT_EQ(to_valid_utf8("a\x80\x80z"), "a\xEF\xBF\xBD\xEF\xBF\xBDz");
  EXPECT_EQ(to_valid_utf8("ok"), "ok");
}

TEST(Utf8, RefuseNamesSourceAndOffset) {
  try {
    (void)to_valid_utf8("hello\xFFworld", InvalidUtf8::Refuse, "corpus.txt");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("corpus.txt"), std::string::npos) << m;
    EXPECT_NE(m.find("byte offset 5"), std::string::npos) << m;
    EXPECT_NE(m.find("0xFF"), std::string::npos) << m;
  }
}

TEST(Normalize, Forms) {
  const std::string composed = "\xC3\xA9";       // é
  const std::string decomposed = "e\xCC\x81";    // e + U+0301
  EXPECT_EQ(normalize(decomposed, NormalizationForm::NFC), composed);
  EXPECT_EQ(normalize(composed, NormalizationForm::NFD), decomposed);
  EXPECT_EQ(normalize("\xEF\xAC\x81", NormalizationForm::NFKC), "fi");  // ligature ﬁ
  EXPECT_EQ(normalize("\xEF\xAC\x81", NormalizationForm::NFC), "\xEF\xAC\x81");
  EXPECT_EQ(normalize("\xE2\x91\xA0", NormalizationForm::NFKD), "1");    // ①
  EXPECT_EQ(normalize("\xEF\xBC\xA1\xC3\x9F", NormalizationForm::NFKC_Casefold), "ass");  // Ａß
  EXPECT_EQ(normalization_form_from_name("NFKC"), NormalizationForm::NFKC);
  EXPECT_THROW(normalization_form_from_name("nfx"), ValueError);
}

TEST(Normalize, LowerCaseIsRightForEveryScript) {
  EXPECT_EQ(to_lower("ΟΔΟΣ"), "οδος");  // final sigma
  EXPECT_EQ(to_lower("ПРИВЕТ Мир"), "привет мир");
  EXPECT_EQ(to_lower("İ"), "i\xCC\x87");     // root: dotted capital I keeps its dot
  EXPECT_EQ(to_lower("I", "tr"), "ı");       // Turkish dotless i
  EXPECT_EQ(to_lower("İ", "tr"), "i");
  EXPECT_EQ(to_lower("ÀÉÎ ABC"), "àéî abc");
  EXPECT_EQ(case_fold("Straße"), "strasse");
}

TEST(Normalize, StripControlWhitespace) {
  EXPECT_EQ(strip_accents("Crème brûlée, naïve Ångström"), "Creme brulee, naive Angstrom");
  EXPECT_EQ(strip_accents("ø ł"), "ø ł");  // not decomposable: kept
  EXPECT_EQ(remove_control("a\x01" "b\xE2\x80\x8B" "c\td\n"), "abc\td\n");  // U+0001, U+200B removed
  EXPECT_EQ(clean_whitespace("  a \t\n b\xC2\xA0\xE3\x80\x80" "c  "), "a b c");
}

TEST(Normalize, PipelineComposesInOrder) {
  Normalizer n = Normalizer::parse("nfkc, lower, strip_accents, clean_whitespace");
  EXPECT_EQ(n.str(), "nfkc,lower,strip_accents,clean_whitespace");
  EXPECT_EQ(n("  Ｃafé\tCRÈME  "), "cafe creme");
  EXPECT_TRUE(Normalizer::parse("none").empty());
  EXPECT_EQ(Normalizer::parse("")("X"), "X");
  EXPECT_THROW(Normalizer::parse("nfkc,shout"), ValueError);
}
