#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/random.hpp>
#include <kiln/text/collate.hpp>

#include <algorithm>
#include <numeric>

namespace kiln::text {

EncodedTextDataset::EncodedTextDataset(std::vector<std::vector<int64_t>> ids, std::vector<int64_t> labels)
    : ids_(std::move(ids)), labels_(std::move(labels)) {
  KILN_CHECK(labels_.empty() || labels_.size() == ids_.size(), ValueError, "EncodedTextDataset: ", ids_.size(),
             " texts but ", labels_.size(), " labels");
}

data::Example EncodedTextDataset::get(int64_t index) const {
  KILN_CHECK(index >= 0 && index < size(), IndexError, "EncodedTextDataset: index ", index, " outside [0, ", size(), ")");
  const auto& ids = ids_[static_cast<size_t>(index)];
  data::Example e;
  e.input = from_vector<int64_t>(ids, Shape{static_cast<int64_t>(ids.size())});
  if (!labels_.empty()) e.target = scalar_tensor(static_cast<double>(labels_[static_cast<size_t>(index)]), {.dtype = DType::Int64});
  return e;
}

std::vector<int64_t> EncodedTextDataset::lengths() const {
  std::vector<int64_t> out;
  out.reserve(ids_.size());
  for (const auto& v : ids_) out.push_back(static_cast<int64_t>(v.size()));
  return out;
}

std::vector<int64_t> encode_text(std::string_view text, const Tokenizer& tokenizer, const Vocab& vocab,
                                 const EncodeOptions& options) {
  std::vector<int64_t> ids;
  if (options.bos_index >= 0) ids.push_back(options.bos_index);
  const size_t limit = options.max_length < 0 ? SIZE_MAX : static_cast<size_t>(options.max_length);
  size_t count = 0;
  tokenizer.for_each_token(text, [&](std::string_view t) {
    if (count++ < limit) ids.push_back(vocab[t]);
  });
  if (options.eos_index >= 0) ids.push_back(options.eos_index);
  return ids;
}

std::shared_ptr<EncodedTextDataset> encode(const TextRecords& records, const Tokenizer& tokenizer, const Vocab& vocab,
                                           const EncodeOptions& options) {
  std::vector<std::vector<int64_t>> ids;
  ids.reserve(records.texts.size());
  for (const auto& t : records.texts) ids.push_back(encode_text(t, tokenizer, vocab, options));
  return std::make_shared<EncodedTextDataset>(std::move(ids), records.labels);
}

PaddedBatch pad_sequences(const std::vector<Tensor>& sequences, int64_t pad_value, bool batch_first) {
  KILN_CHECK(!sequences.empty(), ValueError, "pad_sequences: no sequences");
  int64_t longest = 0;
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < sequences.size(); ++i) {
    KILN_CHECK(sequences[i].dim() == 1, ShapeError, "pad_sequences: sequence ", i, " has shape ", sequences[i].shape(),
               ", expected 1-D");
    lengths.push_back(sequences[i].size(0));
    longest = std::max(longest, lengths.back());
  }
  const auto b = static_cast<int64_t>(sequences.size());
  std::vector<int64_t> flat(static_cast<size_t>(b * longest), pad_value);
  for (int64_t i = 0; i < b; ++i) {
    std::vector<int64_t> v = sequences[static_cast<size_t>(i)].to_vector<int64_t>();
    for (int64_t t = 0; t < static_cast<int64_t>(v.size()); ++t)
      flat[static_cast<size_t>(batch_first ? i * longest + t : t * b + i)] = v[static_cast<size_t>(t)];
  }
  PaddedBatch out;
  out.tokens = from_vector<int64_t>(flat, batch_first ? Shape{b, longest} : Shape{longest, b});
  out.lengths = from_vector<int64_t>(lengths, Shape{b});
  return out;
}

data::CollateFn pad_collate(int64_t pad_value, bool batch_first) {
  return [pad_value, batch_first](std::vector<data::Example>&& examples) {
    std::vector<Tensor> seqs, targets;
    for (auto& e : examples) {
      seqs.push_back(e.input);
      if (e.target.defined()) targets.push_back(e.target);
    }
    data::Batch b;
    b.input = pad_sequences(seqs, pad_value, batch_first).tokens;
    if (!targets.empty()) b.target = stack(targets, 0);
    return b;
  };
}

Tensor lengths_from_padding(const Tensor& tokens, int64_t pad_value) {
  KILN_CHECK(tokens.dim() == 2, ShapeError, "lengths_from_padding: expected [B, T], got ", tokens.shape());
  std::vector<int64_t> v = tokens.to_vector<int64_t>();
  const int64_t b = tokens.size(0), t = tokens.size(1);
  std::vector<int64_t> lengths(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    int64_t n = 0;
    while (n < t && v[static_cast<size_t>(i * t + n)] != pad_value) ++n;
    lengths[static_cast<size_t>(i)] = n;
  }
  return from_vector<int64_t>(lengths, Shape{b});
}

BucketSampler::BucketSampler(std::vector<int64_t> lengths, int64_t batch_size, BucketSamplerOptions options)
    : lengths_(std::move(lengths)), batch_size_(batch_size), options_(options) {
  KILN_CHECK(batch_size_ >= 1, ValueError, "BucketSampler: batch_size must be >= 1, got ", batch_size_);
  KILN_CHECK(options_.bucket_batches >= 1, ValueError, "BucketSampler: bucket_batches must be >= 1");
}

std::vector<int64_t> BucketSampler::indices() const {
  const auto n = static_cast<int64_t>(lengths_.size());
  std::vector<int64_t> order;
  if (options_.shuffle) {
    order = data::random_permutation(n, data::epoch_seed(options_.seed, epoch_));
  } else {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
  }
  const int64_t pool = batch_size_ * options_.bucket_batches;
  for (int64_t s = 0; s < n; s += pool) {
    auto first = order.begin() + s, last = order.begin() + std::min(n, s + pool);
    std::stable_sort(first, last, [&](int64_t a, int64_t b) { return lengths_[a] < lengths_[b]; });
  }
  std::vector<std::vector<int64_t>> batches;
  for (int64_t s = 0; s < n; s += batch_size_)
    batches.emplace_back(order.begin() + s, order.begin() + std::min(n, s + batch_size_));
  if (options_.shuffle && batches.size() > 1) {
    // keep a short final batch last so drop_last still drops only it
    size_t full = batches.back().size() == static_cast<size_t>(batch_size_) ? batches.size() : batches.size() - 1;
    std::vector<int64_t> perm = data::random_permutation(static_cast<int64_t>(full), data::epoch_seed(options_.seed + 1, epoch_));
    std::vector<std::vector<int64_t>> shuffled;
    for (int64_t p : perm) shuffled.push_back(std::move(batches[static_cast<size_t>(p)]));
    for (size_t k = full; k < batches.size(); ++k) shuffled.push_back(std::move(batches[k]));
    batches.swap(shuffled);
  }
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  for (auto& b : batches) out.insert(out.end(), b.begin(), b.end());
  return out;
}

Tensor encode_corpus(const std::vector<std::string>& lines, const Tokenizer& tokenizer, const Vocab& vocab,
                     int64_t eos_index) {
  std::vector<int64_t> ids;
  for (const auto& line : lines) {
    tokenizer.for_each_token(line, [&](std::string_view t) { ids.push_back(vocab[t]); });
    if (eos_index >= 0) ids.push_back(eos_index);
  }
  KILN_CHECK(!ids.empty(), ValueError, "encode_corpus: the corpus is empty (", lines.size(), " lines, no tokens)");
  return from_vector<int64_t>(ids, Shape{static_cast<int64_t>(ids.size())});
}

Tensor batchify(const Tensor& stream, int64_t batch_size) {
  KILN_CHECK(stream.dim() == 1, ShapeError, "batchify: expected a 1-D stream, got ", stream.shape());
  KILN_CHECK(batch_size >= 1, ValueError, "batchify: batch_size must be >= 1, got ", batch_size);
  const int64_t rows = stream.size(0) / batch_size;
  KILN_CHECK(rows >= 1, ValueError, "batchify: a stream of ", stream.size(0), " tokens is shorter than batch_size ",
             batch_size);
  return stream.narrow(0, 0, rows * batch_size).reshape({batch_size, rows}).t().contiguous();
}

std::pair<Tensor, Tensor> bptt_window(const Tensor& source, int64_t i, int64_t bptt) {
  KILN_CHECK(source.dim() == 2, ShapeError, "bptt_window: expected a batchified source [T, B], got ", source.shape());
  KILN_CHECK(i >= 0 && i + 1 < source.size(0), IndexError, "bptt_window: start ", i, " leaves no target in a source of ",
             source.size(0), " rows");
  const int64_t len = std::min(bptt, source.size(0) - 1 - i);
  return {source.narrow(0, i, len), source.narrow(0, i + 1, len)};
}

BPTTBatches::BPTTBatches(Tensor source, int64_t bptt) : source_(std::move(source)), bptt_(bptt) {
  KILN_CHECK(source_.dim() == 2 && source_.size(0) >= 2, ShapeError,
             "BPTTBatches: expected a batchified source [T >= 2, B], got ", source_.shape());
  KILN_CHECK(bptt_ >= 1, ValueError, "BPTTBatches: bptt must be >= 1");
}
void BPTTBatches::start_epoch(int64_t) { cursor_ = 0; }
std::optional<data::Batch> BPTTBatches::next() {
  if (cursor_ + 1 >= source_.size(0)) return std::nullopt;
  auto [x, y] = bptt_window(source_, cursor_, bptt_);
  cursor_ += x.size(0);
  return data::Batch{x.t().contiguous(), y.t().contiguous().reshape({-1})};
}
int64_t BPTTBatches::num_batches() const { return (source_.size(0) - 2) / bptt_ + 1; }
int64_t BPTTBatches::num_samples() const { return (source_.size(0) - 1) * source_.size(1); }

}  // namespace kiln::text
