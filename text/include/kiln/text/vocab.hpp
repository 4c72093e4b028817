// Vocab: tokens <-> indices, torchtext's Vocab and build_vocab_from_iterator.
//
//   text::Vocab vocab = text::build_vocab(token_lists, {.min_freq = 2, .specials = {"<unk>", "<pad>"}});
//   vocab.set_default_index(vocab["<unk>"]);
//   std::vector<int64_t> ids = vocab.lookup_indices(tokens);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::text {

class Vocab {
 public:
  Vocab() = default;
  // Tokens in index order; ValueError on a duplicate.
  explicit Vocab(std::vector<std::string> tokens);

  int64_t size() const { return static_cast<int64_t>(itos_.size()); }
  bool contains(std::string_view token) const;
  // The index of token; the default index when it is absent, or IndexError naming the token when
  // no default is set.
  int64_t operator[](std::string_view token) const;
  int64_t lookup_index(std::string_view token) const { return (*this)[token]; }
  std::vector<int64_t> lookup_indices(const std::vector<std::string>& tokens) const;
  // The token at index; IndexError outside [0, size()).
  const std::string& lookup_token(int64_t index) const;
  std::vector<std::string> lookup_tokens(const std::vector<int64_t>& indices) const;
  const std::vector<std::string>& itos() const { return itos_; }

  // Index returned for unknown tokens (-1 clears it).
  void set_default_index(int64_t index);
  std::optional<int64_t> default_index() const { return default_index_; }
  // Appends a token (no-op when present); returns its index.
  int64_t append_token(const std::string& token);
  // Inserts a token at index, shifting later ones; ValueError when present.
  void insert_token(const std::string& token, int64_t index);

  // JSON: {"format": "kiln-vocab", "version": 1, "default_index": 0 or null, "tokens": [...]},
  // written to a temporary file and renamed into place.
  void save(const std::string& path) const;
  // DataError naming the file and what is wrong (JSON syntax error with its byte offset, a missing
  // field, a duplicate token, a default index out of range).
  static Vocab load(const std::string& path);

 private:
  std::vector<std::string> itos_;
  std::unordered_map<std::string, int64_t> stoi_;
  std::optional<int64_t> default_index_;
};

struct VocabOptions {
  int64_t min_freq = 1;         // tokens seen fewer times are left out
  int64_t max_tokens = -1;      // at most this many tokens in all (specials included); -1: no limit
  std::vector<std::string> specials;  // e.g. {"<unk>", "<pad>", "<bos>", "<eos>"}
  bool special_first = true;    // specials at indices 0.. (else after the other tokens)
};

// Counts tokens and orders them by descending frequency, ties in first-seen order (so the result
// does not depend on hash order); specials are placed as asked and never dropped.
Vocab build_vocab(const std::vector<std::vector<std::string>>& token_lists, const VocabOptions& options = {});
// The same over a stream: `next` fills the next token list and returns true, or false at the end.
Vocab build_vocab(const std::function<bool(std::vector<std::string>&)>& next, const VocabOptions& options = {});

}  // namespace kiln::text
