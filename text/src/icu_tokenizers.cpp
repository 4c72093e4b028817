// The ICU-backed tokenizers: word boundaries, grapheme clusters and regular expressions.
//
// Note [ICU iterators per thread]
// ICU's BreakIterator and URegularExpression hold iteration state, so one object cannot serve two
// threads. Each tokenizer keeps a prototype and every thread clones it once, on first use, into a
// thread_local cache keyed by the tokenizer's unique id (ids are never reused, so a destroyed
// tokenizer's clone is simply never found again). Text is handed to ICU as a UTF-8 UText, so the
// boundaries ICU reports are byte offsets into the caller's string: no UTF-16 copy is made.
#include "icu_util.hpp"

#include <kiln/error.hpp>
#include <kiln/text/tokenizer.hpp>

#include <unicode/brkiter.h>
#include <unicode/uregex.h>
#include <unicode/utext.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace kiln::text {
namespace {

uint64_t next_id() {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1);
}

struct UTextCloser {
  void operator()(UText* t) const { utext_close(t); }
};
using UTextPtr = std::unique_ptr<UText, UTextCloser>;

UTextPtr open_utf8(std::string_view s) {
  UErrorCode status = U_ZERO_ERROR;
  UText* t = utext_openUTF8(nullptr, s.data(), static_cast<int64_t>(s.size()), &status);
  KILN_CHECK(U_SUCCESS(status), ValueError, "ICU: cannot open UTF-8 text: ", u_errorName(status));
  return UTextPtr(t);
}

std::mutex& clone_mutex() {
  static std::mutex m;
  return m;
}

icu::BreakIterator* local_break_iterator(uint64_t id, const icu::BreakIterator& proto) {
  thread_local std::unordered_map<uint64_t, std::unique_ptr<icu::BreakIterator>> cache;
  auto& slot = cache[id];
  if (!slot) {
    std::lock_guard<std::mutex> lock(clone_mutex());
    slot.reset(proto.clone());
  }
  return slot.get();
}

template <typename Keep>
std::vector<Token> segments(icu::BreakIterator* it, std::string_view text, Keep&& keep) {
  std::vector<Token> out;
  if (text.empty()) return out;
  UTextPtr ut = open_utf8(text);
  UErrorCode status = U_ZERO_ERROR;
  it->setText(ut.get(), status);
  KILN_CHECK(U_SUCCESS(status), ValueError, "ICU break iterator: ", u_errorName(status));
  int32_t begin = it->first();
  for (int32_t end = it->next(); end != icu::BreakIterator::DONE; begin = end, end = it->next()) {
    auto b = static_cast<size_t>(begin), e = static_cast<size_t>(end);
    if (keep(it->getRuleStatus(), text.substr(b, e - b))) out.push_back({std::string(text.substr(b, e - b)), b, e});
  }
  // detach the iterator from the UText before it is closed
  UErrorCode ignored = U_ZERO_ERROR;
  UTextPtr empty = open_utf8("");
  it->setText(empty.get(), ignored);
  return out;
}

bool all_space(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (!(b == ' ' || (b >= 0x09 && b <= 0x0D))) return false;
      ++i;
      continue;
    }
    UChar32 c;
    U8_NEXT(s.data(), i, s.size(), c);
    if (!u_isUWhiteSpace(c)) return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------- WordTokenizer
struct WordTokenizer::Impl {
  std::unique_ptr<icu::BreakIterator> proto;
  uint64_t id = next_id();
};

WordTokenizer::WordTokenizer(WordTokenizerOptions options) : impl_(std::make_unique<Impl>()), options_(options) {
  UErrorCode status = U_ZERO_ERROR;
  impl_->proto.reset(icu::BreakIterator::createWordInstance(icu::Locale(options_.locale.c_str()), status));
  KILN_CHECK(U_SUCCESS(status) && impl_->proto, ValueError, "word tokenizer: ICU has no word break rules for locale '",
             options_.locale, "': ", u_errorName(status));
}
WordTokenizer::~WordTokenizer() = default;

std::string WordTokenizer::name() const {
  std::string n = options_.keep_punctuation ? "word_punct" : "word";
  return options_.locale.empty() ? n : n + ":" + options_.locale;
}

std::vector<Token> WordTokenizer::tokenize_with_offsets(std::string_view text) const {
  icu::BreakIterator* it = local_break_iterator(impl_->id, *impl_->proto);
  const bool punct = options_.keep_punctuation;
  // Rule status UBRK_WORD_NONE ([0, 100)) marks spaces and punctuation; numbers, letters, kana and
  // ideographs are words.
  return segments(it, text, [punct](int32_t status, std::string_view seg) {
    if (status >= UBRK_WORD_NONE_LIMIT) return true;
    return punct && !all_space(seg);
  });
}

// ---------------------------------------------------------------- CharacterTokenizer
struct CharacterTokenizer::Impl {
  std::unique_ptr<icu::BreakIterator> proto;
  uint64_t id = next_id();
};

CharacterTokenizer::CharacterTokenizer() : impl_(std::make_unique<Impl>()) {
  UErrorCode status = U_ZERO_ERROR;
  impl_->proto.reset(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
  KILN_CHECK(U_SUCCESS(status) && impl_->proto, ValueError, "char tokenizer: ", u_errorName(status));
}
CharacterTokenizer::~CharacterTokenizer() = default;

std::vector<Token> CharacterTokenizer::tokenize_with_offsets(std::string_view text) const {
  icu::BreakIterator* it = local_break_iterator(impl_->id, *impl_->proto);
  return segments(it, text, [](int32_t, std::string_view) { return true; });
}

// ---------------------------------------------------------------- RegexTokenizer
struct RegexTokenizer::Impl {
  URegularExpression* proto = nullptr;
  uint64_t id = next_id();
  ~Impl() {
    if (proto) uregex_close(proto);
  }
};

RegexTokenizer::RegexTokenizer(const std::string& pattern) : impl_(std::make_unique<Impl>()), pattern_(pattern) {
  UErrorCode status = U_ZERO_ERROR;
  UParseError parse{};
  icu::UnicodeString u = internal::to_icu(pattern);
  impl_->proto = uregex_open(u.getBuffer(), u.length(), 0, &parse, &status);
  KILN_CHECK(U_SUCCESS(status), ValueError, "regex tokenizer: pattern '", pattern, "' does not compile: ",
             u_errorName(status), " at offset ", parse.offset);
}
RegexTokenizer::~RegexTokenizer() = default;

std::vector<Token> RegexTokenizer::tokenize_with_offsets(std::string_view text) const {
  struct Closer {
    void operator()(URegularExpression* r) const { uregex_close(r); }
  };
  thread_local std::unordered_map<uint64_t, std::unique_ptr<URegularExpression, Closer>> cache;
  auto& slot = cache[impl_->id];
  UErrorCode status = U_ZERO_ERROR;
  if (!slot) {
    std::lock_guard<std::mutex> lock(clone_mutex());
    slot.reset(uregex_clone(impl_->proto, &status));
    KILN_CHECK(U_SUCCESS(status), ValueError, "regex tokenizer: ", u_errorName(status));
  }
  URegularExpression* re = slot.get();
  std::vector<Token> out;
  UTextPtr ut = open_utf8(text);
  uregex_setUText(re, ut.get(), &status);
  while (uregex_findNext(re, &status)) {
    auto b = static_cast<size_t>(uregex_start64(re, 0, &status));
    auto e = static_cast<size_t>(uregex_end64(re, 0, &status));
    if (e > b) out.push_back({std::string(text.substr(b, e - b)), b, e});
  }
  KILN_CHECK(U_SUCCESS(status), ValueError, "regex tokenizer '", pattern_, "': ", u_errorName(status));
  UTextPtr empty = open_utf8("");
  UErrorCode ignored = U_ZERO_ERROR;
  uregex_setUText(re, empty.get(), &ignored);
  return out;
}

}  // namespace kiln::text
