// kiln tokenize: UTF-8 from stdin, one token per line on stdout, with any kiln::text tokenizer.
#include "commands.hpp"

#include <kiln/error.hpp>
#include <kiln/text/bpe.hpp>
#include <kiln/text/normalize.hpp>
#include <kiln/text/tokenizer.hpp>
#include <kiln/text/utf8.hpp>

#include <chrono>
#include <cstdio>
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
      ("count", po::bool_switch(), "print only the number of tokens")
      ("bench", po::value<int>()->implicit_value(3),
       "throughput: tokenize every line of the input (tokenize(): a vector of strings per line) N times "
       "(default 3) and print the best MB/s")
      ("train-bpe", po::value<std::string>(), "train a byte-level BPE on the input's lines and save it to this file")
      ("vocab-size", po::value<int64_t>()->default_value(8000), "--train-bpe: target vocabulary size");
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
  if (vm.count("train-bpe")) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < input.size()) {
      size_t end = input.find('\n', start);
      if (end == std::string::npos) end = input.size();
      lines.push_back(input.substr(start, end - start + (end < input.size() ? 1 : 0)));
      start = end + 1;
    }
    auto t0 = std::chrono::steady_clock::now();
    text::ByteBPE bpe = text::ByteBPE::train(lines, {.vocab_size = vm["vocab-size"].as<int64_t>()});
    double secs = seconds_since(t0);
    bpe.save(vm["train-bpe"].as<std::string>());
    std::printf("trained %lld merges (vocabulary %lld) on %zu lines in %.2f s; saved to %s\n",
                static_cast<long long>(bpe.num_merges()), static_cast<long long>(bpe.vocab_size()), lines.size(), secs,
                vm["train-bpe"].as<std::string>().c_str());
    return kExitOk;
  }
  if (vm.count("bench")) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < input.size()) {
      size_t end = input.find('\n', start);
      if (end == std::string::npos) end = input.size();
      lines.emplace_back(input.data() + start, end - start);
      start = end + 1;
    }
    double best = 1e30;
    size_t tokens = 0;
    for (int r = 0; r < std::max(1, vm["bench"].as<int>()); ++r) {
      auto t0 = std::chrono::steady_clock::now();
      size_t n = 0;
      for (auto line : lines) n += tokenizer->tokenize(line).size();
      best = std::min(best, seconds_since(t0));
      tokens = n;
    }
    std::printf("%-16s %8.1f MB/s  %10zu tokens  %zu bytes  %zu lines  best of %d\n", tokenizer->name().c_str(),
                static_cast<double>(input.size()) / best / 1e6, tokens, input.size(), lines.size(),
                std::max(1, vm["bench"].as<int>()));
    return kExitOk;
  }
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
