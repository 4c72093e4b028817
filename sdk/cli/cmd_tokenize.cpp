// kiln tokenize: UTF-8 from stdin, one token per line on stdout, with any kiln::text tokenizer.
#include "commands.hpp"

#include <kiln/error.hpp>
#include <kiln/text/normalize.hpp>
#include <kiln/text/tokenizer.hpp>
#include <kiln/text/utf8.hpp>

#include <iostream>
#include <iterator>
#include <sstream>

namespace kiln::cli {
namespace {

void declare(Options& o) {
  o.visible.add_options()
      ("tokenizer", po::value<std::string>()->default_value("basic_english"),
       "basic_english, whitespace, word[:LOCALE], word_punct[:LOCALE], char, regex:PATTERN or bpe:FILE")
      ("normalize", po::value<std::string>()->default_value("none"),
       "normalization applied first, comma-separated steps: nfc, nfd, nfkc, nfkd, nfkc_casefold, lower, "
       "lower:LOCALE, upper, casefold, strip_accents, remove_control, clean_whitespace")
      ("invalid-utf8", po::value<std::string>()->default_value("replace"),
       "replace (U+FFFD) or refuse (exit 1 naming the byte offset) invalid UTF-8 input")
      ("offsets", po::bool_switch(), "print 'begin<TAB>end<TAB>token' (byte offsets into the normalized input)")
      ("count", po::bool_switch(), "print only the number of tokens");
}

// One token per line needs line breaks inside tokens written visibly.
std::string escape(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default: out += c;
    }
  }
  return out;
}

int run(const po::variables_map& vm) {
  const std::string policy_name = vm["invalid-utf8"].as<std::string>();
  if (policy_name != "replace" && policy_name != "refuse")
    throw UsageError("--invalid-utf8 must be replace or refuse, got '" + policy_name + "'");
  const auto policy = policy_name == "replace" ? text::InvalidUtf8::Replace : text::InvalidUtf8::Refuse;
  text::TokenizerPtr tokenizer;
  text::Normalizer normalizer;
  try {
    tokenizer = text::make_tokenizer(vm["tokenizer"].as<std::string>());
    normalizer = text::Normalizer::parse(vm["normalize"].as<std::string>());
  } catch (const ValueError& e) {
    throw UsageError(e.what());
  }
  std::ios::sync_with_stdio(false);
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  input = normalizer(text::to_valid_utf8(input, policy, "stdin"));
  std::string out;
  if (vm["count"].as<bool>()) {
    size_t n = 0;
    tokenizer->for_each_token(input, [&](std::string_view) { ++n; });
    std::cout << n << "\n";
    return kExitOk;
  }
  if (vm["offsets"].as<bool>()) {
    for (const auto& t : tokenizer->tokenize_with_offsets(input))
      out += std::to_string(t.begin) + "\t" + std::to_string(t.end) + "\t" + escape(t.text) + "\n";
  } else {
    tokenizer->for_each_token(input, [&](std::string_view t) {
      out += escape(t);
      out += '\n';
    });
  }
  std::cout << out;
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(tokenize, {.name = "tokenize",
                            .summary = "Split UTF-8 text from stdin into tokens, one per line",
                            .usage = "kiln tokenize [--tokenizer NAME] [--normalize STEPS] [--offsets] < text",
                            .description =
                                "Reads all of stdin as UTF-8, normalizes it (--normalize), tokenizes it and writes "
                                "one token per line; line breaks, tabs and backslashes inside a token are written "
                                "as \\n, \\r, \\t and \\\\. The char tokenizer yields grapheme clusters, word uses "
                                "ICU's word boundaries with dictionary segmentation for Chinese, Japanese and Thai, "
                                "bpe:FILE a model saved by kiln::text::ByteBPE.",
                            .declare = declare,
                            .run = run});

}  // namespace kiln::cli
