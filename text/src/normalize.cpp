// Normalization through ICU's Normalizer2 and case mapping, with ASCII fast paths: pure ASCII is
// already in every normalization form, and its case mapping needs no tables.
#include "icu_util.hpp"

#include <kiln/error.hpp>
#include <kiln/text/normalize.hpp>
#include <kiln/text/utf8.hpp>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>

namespace kiln::text {

namespace {
std::string lower_name(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const icu::Normalizer2* normalizer_for(NormalizationForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalizationForm::NFC: n = icu::Normalizer2::getNFCInstance(status); break;
    case NormalizationForm::NFD: n = icu::Normalizer2::getNFDInstance(status); break;
    case NormalizationForm::NFKC: n = icu::Normalizer2::getNFKCInstance(status); break;
    case NormalizationForm::NFKD: n = icu::Normalizer2::getNFKDInstance(status); break;
    case NormalizationForm::NFKC_Casefold: n = icu::Normalizer2::getNFKCCasefoldInstance(status); break;
  }
  KILN_CHECK(U_SUCCESS(status) && n != nullptr, ValueError, "ICU normalizer ", normalization_form_name(form),
             " is unavailable: ", u_errorName(status));
  return n;
}
}  // namespace

NormalizationForm normalization_form_from_name(std::string_view name) {
  std::string n = lower_name(name);
  if (n == "nfc") return NormalizationForm::NFC;
  if (n == "nfd") return NormalizationForm::NFD;
  if (n == "nfkc") return NormalizationForm::NFKC;
  if (n == "nfkd") return NormalizationForm::NFKD;
  if (n == "nfkc_casefold" || n == "nfkc_cf") return NormalizationForm::NFKC_Casefold;
  throw ValueError(detail::concat("unknown normalization form '", name,
                                  "' (expected nfc, nfd, nfkc, nfkd or nfkc_casefold)"));
}

const char* normalization_form_name(NormalizationForm form) {
  switch (form) {
    case NormalizationForm::NFC: return "nfc";
    case NormalizationForm::NFD: return "nfd";
    case NormalizationForm::NFKC: return "nfkc";
    case NormalizationForm::NFKD: return "nfkd";
    case NormalizationForm::NFKC_Casefold: return "nfkc_casefold";
  }
  return "?";
}

std::string normalize(std::string_view s, NormalizationForm form) {
  if (internal::is_ascii(s)) {
    if (form != NormalizationForm::NFKC_Casefold) return std::string(s);
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  const icu::Normalizer2* n = normalizer_for(form);
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString result = n->normalize(internal::to_icu(s), status);
  KILN_CHECK(U_SUCCESS(status), ValueError, "normalize(", normalization_form_name(form), "): ", u_errorName(status));
  return internal::from_icu(result);
}

std::string to_lower(std::string_view s, const std::string& locale) {
  if (internal::is_ascii(s) && locale.empty()) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  icu::UnicodeString u = internal::to_icu(s);
  u.toLower(icu::Locale(locale.empty() ? "" : locale.c_str()));
  return internal::from_icu(u);
}

std::string to_upper(std::string_view s, const std::string& locale) {
  if (internal::is_ascii(s) && locale.empty()) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
  }
  icu::UnicodeString u = internal::to_icu(s);
  u.toUpper(icu::Locale(locale.empty() ? "" : locale.c_str()));
  return internal::from_icu(u);
}

std::string case_fold(std::string_view s) {
  if (internal::is_ascii(s)) return to_lower(s);
  icu::UnicodeString u = internal::to_icu(s);
  u.foldCase(U_FOLD_CASE_DEFAULT);
  return internal::from_icu(u);
}

std::string strip_accents(std::string_view s) {
  if (internal::is_ascii(s)) return std::string(s);
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString d = normalizer_for(NormalizationForm::NFD)->normalize(internal::to_icu(s), status);
  icu::UnicodeString kept;
  for (int32_t i = 0; i < d.length();) {
    UChar32 c = d.char32At(i);
    if (u_charType(c) != U_NON_SPACING_MARK) kept.append(c);
    i += U16_LENGTH(c);
  }
  icu::UnicodeString r = normalizer_for(NormalizationForm::NFC)->normalize(kept, status);
  KILN_CHECK(U_SUCCESS(status), ValueError, "strip_accents: ", u_errorName(status));
  return internal::from_icu(r);
}

std::string remove_control(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    char32_t c = decode_utf8(s, i);
    if (c == '\t' || c == '\n' || c == '\r') {
      out.append(s.data() + start, i - start);
      continue;
    }
    int8_t type = c < 0x80 ? static_cast<int8_t>(c < 0x20 || c == 0x7F ? U_CONTROL_CHAR : U_UPPERCASE_LETTER) : u_charType(c);
    if (type == U_CONTROL_CHAR || type == U_FORMAT_CHAR) continue;
    out.append(s.data() + start, i - start);
  }
  return out;
}

std::string clean_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    char32_t c = decode_utf8(s, i);
    bool space = c < 0x80 ? (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) : u_isUWhiteSpace(c);
    if (space) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out.append(s.data() + start, i - start);
  }
  return out;
}

// ---------------------------------------------------------------- Normalizer
Normalizer Normalizer::parse(std::string_view spec) {
  Normalizer n;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string raw(spec.substr(pos, comma - pos));
    raw.erase(0, raw.find_first_not_of(" \t"));
    raw.erase(raw.find_last_not_of(" \t") + 1);
    std::string step = lower_name(raw);
    pos = comma + 1;
    if (step.empty() || step == "none") continue;
    if (step == "lower") n.lower();
    else if (step.rfind("lower:", 0) == 0) n.lower(raw.substr(6));
    else if (step == "upper") n.then("upper", [](std::string_view s) { return to_upper(s); });
    else if (step == "casefold") n.casefold();
    else if (step == "strip_accents") n.strip_accents();
    else if (step == "remove_control") n.remove_control();
    else if (step == "clean_whitespace") n.clean_whitespace();
    else if (step == "nfc" || step == "nfd" || step == "nfkc" || step == "nfkd" || step == "nfkc_casefold" || step == "nfkc_cf")
      n.form(normalization_form_from_name(step));
    else
      throw ValueError("unknown normalization step '" + raw +
                       "' (expected nfc, nfd, nfkc, nfkd, nfkc_casefold, lower, lower:<locale>, upper, casefold, "
                       "strip_accents, remove_control or clean_whitespace)");
  }
  return n;
}

Normalizer& Normalizer::then(std::string name, Step step) {
  names_.push_back(std::move(name));
  steps_.push_back(std::move(step));
  return *this;
}
Normalizer& Normalizer::form(NormalizationForm f) {
  return then(normalization_form_name(f), [f](std::string_view s) { return normalize(s, f); });
}
Normalizer& Normalizer::lower(const std::string& locale) {
  return then(locale.empty() ? "lower" : "lower:" + locale, [locale](std::string_view s) { return to_lower(s, locale); });
}
Normalizer& Normalizer::casefold() { return then("casefold", [](std::string_view s) { return case_fold(s); }); }
Normalizer& Normalizer::strip_accents() {
  return then("strip_accents", [](std::string_view s) { return text::strip_accents(s); });
}
Normalizer& Normalizer::remove_control() {
  return then("remove_control", [](std::string_view s) { return text::remove_control(s); });
}
Normalizer& Normalizer::clean_whitespace() {
  return then("clean_whitespace", [](std::string_view s) { return text::clean_whitespace(s); });
}

std::string Normalizer::operator()(std::string_view s) const {
  if (steps_.empty()) return std::string(s);
  std::string cur = steps_[0](s);
  for (size_t k = 1; k < steps_.size(); ++k) cur = steps_[k](cur);
  return cur;
}

std::string Normalizer::str() const {
  std::string out;
  for (const auto& n : names_) out += (out.empty() ? "" : ",") + n;
  return out.empty() ? "none" : out;
}

}  // namespace kiln::text
