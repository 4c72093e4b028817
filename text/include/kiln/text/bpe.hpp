// Byte-level byte-pair encoding (GPT-2's scheme), trainable on a corpus.
//
//   auto bpe = text::ByteBPE::train(lines, {.vocab_size = 2000});
//   std::vector<int64_t> ids = bpe.encode("naïve café");
//   assert(bpe.decode(ids) == "naïve café");        // exact for any input, even invalid UTF-8
//   bpe.save("bpe.json");  auto again = text::ByteBPE::load("bpe.json");
//
// The base vocabulary is the 256 bytes, so nothing is ever unknown. Text is first split into
// pieces the way GPT-2 does (a run of letters, of digits or of other symbols, each with at most one
// leading space; runs of white space), and merges never cross pieces. Token strings use GPT-2's
// byte-to-character map (a space shows as "Ġ", a newline as "Ċ"), so the saved merges read like a
// Hugging Face merges.txt. Ids: special tokens first, then the 256 bytes, then merges in order.
#pragma once

#include <kiln/text/tokenizer.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::text {

struct BPETrainOptions {
  int64_t vocab_size = 1000;      // specials + 256 bytes + merges; training stops early when no pair
                                  // occurs min_frequency times
  int64_t min_frequency = 2;
  std::vector<std::string> special_tokens;  // e.g. {"<pad>", "<unk>", "<eos>"}: ids 0, 1, 2
};

class ByteBPE : public Tokenizer {
 public:
  // No merges: every byte is one token.
  explicit ByteBPE(std::vector<std::string> special_tokens = {});

  // Learns merges from texts (each text is pre-tokenized on its own). ValueError when vocab_size
  // is below specials + 256 or the corpus is empty.
  static ByteBPE train(const std::vector<std::string>& texts, const BPETrainOptions& options = {});
  // The same over a stream: `next` stores the next text and returns true, or returns false at the end.
  static ByteBPE train(const std::function<bool(std::string&)>& next, const BPETrainOptions& options = {});

  std::vector<int64_t> encode(std::string_view text) const;
  // Inverse of encode: the bytes of the tokens, concatenated (specials give their text).
  // IndexError for an id outside the vocabulary.
  std::string decode(const std::vector<int64_t>& ids) const;

  // JSON: {"format": "kiln-byte-bpe", "version": 1, "special_tokens": [...], "merges": ["Ġ t", ...]}.
  // Written to a temporary file and renamed into place.
  void save(const std::string& path) const;
  // DataError naming the file and the problem (JSON syntax error with its byte, unknown token in a merge).
  static ByteBPE load(const std::string& path);

  int64_t vocab_size() const { return static_cast<int64_t>(token_bytes_.size()); }
  int64_t num_merges() const { return static_cast<int64_t>(merges_.size()); }
  // The displayed token string of an id (GPT-2 byte map), and the id of such a string (-1 if none).
  const std::string& token(int64_t id) const;
  int64_t id(const std::string& token) const;
  const std::vector<std::string>& special_tokens() const { return specials_; }

  // Tokenizer: the displayed token strings with their byte spans; lossless.
  std::string name() const override { return "bpe"; }
  std::vector<Token> tokenize_with_offsets(std::string_view text) const override;
  bool lossless() const override { return true; }
  std::string detokenize(const std::vector<std::string>& tokens) const override;

  // The pieces BPE merges within, as byte spans [begin, end) of text.
  static std::vector<std::pair<size_t, size_t>> pre_tokenize(std::string_view text);

 private:
  void add_merge(int32_t left, int32_t right);
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  std::vector<std::string> specials_;
  std::vector<std::string> token_bytes_;  // raw bytes of each id (specials: their text)
  std::vector<std::string> token_str_;    // displayed strings
  std::unordered_map<std::string, int64_t> str_to_id_;
  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merge_rank_;  // pair -> (rank, new id)
  int32_t byte_base_ = 0;  // id of byte 0
  uint64_t cache_id_;      // key of this model's per-thread piece cache (see bpe.cpp)
};

}  // namespace kiln::text
