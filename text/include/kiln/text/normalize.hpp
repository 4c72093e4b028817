// Unicode normalization and text clean-up (ICU), one function per step and a composable pipeline.
//
//   text::Normalizer norm = text::Normalizer::parse("nfkc,lower,strip_accents,clean_whitespace");
//   std::string s = norm("Ｃafé  Crème");   // "cafe creme"
//
// Every function takes and returns UTF-8 (invalid input is read with U+FFFD substituted).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::text {

enum class NormalizationForm { NFC, NFD, NFKC, NFKD, NFKC_Casefold };

// "nfc", "nfd", "nfkc", "nfkd", "nfkc_casefold" (case-insensitive); ValueError otherwise.
NormalizationForm normalization_form_from_name(std::string_view name);
const char* normalization_form_name(NormalizationForm form);

// The Unicode normalization form of s (UAX #15).
std::string normalize(std::string_view s, NormalizationForm form);
// Full Unicode lower-casing (SpecialCasing: final sigma, "İ" -> "i̇"), with the language rules of
// `locale` when given ("tr" and "az": dotted/dotless i; "lt": retained dot). "" is the root locale.
std::string to_lower(std::string_view s, const std::string& locale = "");
std::string to_upper(std::string_view s, const std::string& locale = "");
// Unicode default case folding (for caseless matching: "Straße" -> "strasse").
std::string case_fold(std::string_view s);
// Removes combining marks (general category Mn) after canonical decomposition, then recomposes:
// "Crème brûlée" -> "Creme brulee". Letters that are not decomposable ("ø", "ł") stay.
std::string strip_accents(std::string_view s);
// Removes control and format characters (categories Cc and Cf) except tab, line feed and carriage
// return, which are whitespace.
std::string remove_control(std::string_view s);
// Replaces each run of Unicode White_Space with one ASCII space and trims both ends.
std::string clean_whitespace(std::string_view s);

// A sequence of the steps above, applied in order. Cheap to copy; thread-safe to call.
class Normalizer {
 public:
  using Step = std::function<std::string(std::string_view)>;
  Normalizer() = default;

  // Steps by name, separated by commas: nfc, nfd, nfkc, nfkd, nfkc_casefold, lower, lower:<locale>,
  // upper, casefold, strip_accents, remove_control, clean_whitespace; "" or "none" is the identity.
  // ValueError naming the unknown step otherwise.
  static Normalizer parse(std::string_view spec);

  Normalizer& then(std::string name, Step step);
  Normalizer& form(NormalizationForm f);
  Normalizer& lower(const std::string& locale = "");
  Normalizer& casefold();
  Normalizer& strip_accents();
  Normalizer& remove_control();
  Normalizer& clean_whitespace();

  std::string operator()(std::string_view s) const;
  bool empty() const { return steps_.empty(); }
  // "nfkc,lower"
  std::string str() const;

 private:
  std::vector<std::string> names_;
  std::vector<Step> steps_;
};

}  // namespace kiln::text
