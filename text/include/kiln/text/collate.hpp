// From text records to tensors: encoding with a tokenizer and a vocabulary, padding collation
// with lengths, a bucketing sampler, and batchify/BPTT windows for language models.
#pragma once

#include <kiln/data.hpp>
#include <kiln/data/dataloader.hpp>
#include <kiln/data/dataset.hpp>
#include <kiln/data/sampler.hpp>
#include <kiln/text/datasets.hpp>
#include <kiln/text/tokenizer.hpp>
#include <kiln/text/vocab.hpp>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace kiln::text {

struct EncodeOptions {
  int64_t max_length = -1;  // keep at most this many tokens per text (-1: all)
  int64_t bos_index = -1;   // prepended when >= 0
  int64_t eos_index = -1;   // appended when >= 0
};
// Example i: input = int64 [L_i] token indices of texts[i], target = int64 scalar labels[i]
// (undefined when the records have no labels). Texts are encoded once, up front.
class EncodedTextDataset : public data::Dataset {
 public:
  EncodedTextDataset(std::vector<std::vector<int64_t>> ids, std::vector<int64_t> labels);
  int64_t size() const override { return static_cast<int64_t>(ids_.size()); }
  data::Example get(int64_t index) const override;
  // Token count of each example (for BucketSampler).
  std::vector<int64_t> lengths() const;
  const std::vector<int64_t>& ids(int64_t index) const { return ids_.at(static_cast<size_t>(index)); }

 private:
  std::vector<std::vector<int64_t>> ids_;
  std::vector<int64_t> labels_;
};
std::shared_ptr<EncodedTextDataset> encode(const TextRecords& records, const Tokenizer& tokenizer, const Vocab& vocab,
                                           const EncodeOptions& options = {});
// Token indices of one text.
std::vector<int64_t> encode_text(std::string_view text, const Tokenizer& tokenizer, const Vocab& vocab,
                                 const EncodeOptions& options = {});

// ---------------------------------------------------------------- collation
struct PaddedBatch {
  Tensor tokens;   // int64 [B, T] (batch_first) or [T, B], T = the longest sequence
  Tensor lengths;  // int64 [B]
};
// Pads 1-D int64 sequences with pad_value to the longest. ValueError for an empty list.
PaddedBatch pad_sequences(const std::vector<Tensor>& sequences, int64_t pad_value, bool batch_first = true);
// A DataLoader collate function: input = padded tokens [B, T], target = stacked labels [B].
// The lengths are those of the non-pad prefix: see lengths_from_padding.
data::CollateFn pad_collate(int64_t pad_value, bool batch_first = true);
// Lengths [B] of a padded [B, T] batch: the number of leading entries not equal to pad_value.
Tensor lengths_from_padding(const Tensor& tokens, int64_t pad_value);

struct BucketSamplerOptions {
  int64_t bucket_batches = 50;  // sort within pools of this many batches
  bool shuffle = true;          // shuffle examples before pooling and batches after
  uint64_t seed = 0;
};
// Orders indices so that consecutive runs of batch_size (what a DataLoader with that batch size
// takes) hold examples of similar length, which keeps padding low: shuffle (per epoch), cut into
// pools of bucket_batches * batch_size, sort each pool by length, cut into batches, shuffle the
// batches. Every index appears exactly once per epoch.
class BucketSampler : public data::Sampler {
 public:
  BucketSampler(std::vector<int64_t> lengths, int64_t batch_size, BucketSamplerOptions options = {});
  std::vector<int64_t> indices() const override;
  int64_t size() const override { return static_cast<int64_t>(lengths_.size()); }

 private:
  std::vector<int64_t> lengths_;
  int64_t batch_size_;
  BucketSamplerOptions options_;
};

// ---------------------------------------------------------------- language modelling
// One int64 stream of a corpus: the tokens of every line, each line followed by eos_index (when >= 0).
Tensor encode_corpus(const std::vector<std::string>& lines, const Tokenizer& tokenizer, const Vocab& vocab,
                     int64_t eos_index = -1);
// [N] -> [N / batch_size, batch_size]: column b is the b-th contiguous slice of the stream
// (PyTorch's word_language_model); the tail that does not fill a row is dropped. ValueError when
// the stream is shorter than batch_size.
Tensor batchify(const Tensor& stream, int64_t batch_size);
// Window i of a batchified source [T, B]: input rows [i, i+L), target rows [i+1, i+1+L) with
// L = min(bptt, T - 1 - i); both [L, B].
std::pair<Tensor, Tensor> bptt_window(const Tensor& source, int64_t i, int64_t bptt);

// The BPTT windows of a batchified source as a BatchSource, batch-first: input [B, L], target
// [B * L] (row-major, so it lines up with logits reshaped to [B * L, V]). Windows are served in
// order (hidden state may be carried between them).
class BPTTBatches : public data::BatchSource {
 public:
  BPTTBatches(Tensor source, int64_t bptt);
  void start_epoch(int64_t epoch) override;
  std::optional<data::Batch> next() override;
  int64_t num_batches() const override;
  int64_t num_samples() const override;

 private:
  Tensor source_;
  int64_t bptt_;
  int64_t cursor_ = 0;
};

}  // namespace kiln::text
