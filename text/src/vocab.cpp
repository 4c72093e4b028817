#include <kiln/error.hpp>
#include <kiln/text/vocab.hpp>

#include "json_file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace kiln::text {

Vocab::Vocab(std::vector<std::string> tokens) {
  for (auto& t : tokens) {
    KILN_CHECK(!stoi_.count(t), ValueError, "Vocab: token '", t, "' appears twice");
    stoi_.emplace(t, static_cast<int64_t>(itos_.size()));
    itos_.push_back(std::move(t));
  }
}

bool Vocab::contains(std::string_view token) const { return stoi_.count(std::string(token)) != 0; }

int64_t Vocab::operator[](std::string_view token) const {
  auto it = stoi_.find(std::string(token));
  if (it != stoi_.end()) return it->second;
  KILN_CHECK(default_index_.has_value(), IndexError, "Vocab: token '", token,
             "' is not in the vocabulary and no default index is set (set_default_index)");
  return *default_index_;
}

std::vector<int64_t> Vocab::lookup_indices(const std::vector<std::string>& tokens) const {
  std::vector<int64_t> out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back((*this)[t]);
  return out;
}

const std::string& Vocab::lookup_token(int64_t index) const {
  KILN_CHECK(index >= 0 && index < size(), IndexError, "Vocab: index ", index, " outside [0, ", size(), ")");
  return itos_[static_cast<size_t>(index)];
}

std::vector<std::string> Vocab::lookup_tokens(const std::vector<int64_t>& indices) const {
  std::vector<std::string> out;
  out.reserve(indices.size());
  for (int64_t i : indices) out.push_back(lookup_token(i));
  return out;
}

void Vocab::set_default_index(int64_t index) {
  if (index < 0) {
    default_index_.reset();
    return;
  }
  KILN_CHECK(index < size(), IndexError, "Vocab: default index ", index, " outside [0, ", size(), ")");
  default_index_ = index;
}

int64_t Vocab::append_token(const std::string& token) {
  auto it = stoi_.find(token);
  if (it != stoi_.end()) return it->second;
  stoi_.emplace(token, size());
  itos_.push_back(token);
  return size() - 1;
}

void Vocab::insert_token(const std::string& token, int64_t index) {
  KILN_CHECK(!contains(token), ValueError, "Vocab: token '", token, "' is already present");
  KILN_CHECK(index >= 0 && index <= size(), IndexError, "Vocab: insert index ", index, " outside [0, ", size(), "]");
  itos_.insert(itos_.begin() + index, token);
  for (int64_t i = index; i < size(); ++i) stoi_[itos_[static_cast<size_t>(i)]] = i;
  if (default_index_ && *default_index_ >= index) ++*default_index_;
}

void Vocab::save(const std::string& path) const {
  nlohmann::ordered_json j;
  j["format"] = "kiln-vocab";
  j["version"] = 1;
  j["default_index"] = default_index_ ? nlohmann::ordered_json(*default_index_) : nlohmann::ordered_json(nullptr);
  j["tokens"] = itos_;
  json_file::write_json_file(path, j);
}

Vocab Vocab::load(const std::string& path) {
  const nlohmann::json j = json_file::read_json_file(path, "vocabulary file", "kiln-vocab", 1);
  KILN_CHECK(j.contains("tokens") && j["tokens"].is_array(), DataError, path, ": \"tokens\" must be an array");
  std::vector<std::string> tokens;
  for (size_t i = 0; i < j["tokens"].size(); ++i) {
    KILN_CHECK(j["tokens"][i].is_string(), DataError, path, ": token ", i, " is not a string");
    tokens.push_back(j["tokens"][i].get<std::string>());
  }
  Vocab v;
  try {
    v = Vocab(std::move(tokens));
  } catch (const ValueError& e) {
    throw DataError(detail::concat(path, ": ", e.what()));
  }
  if (j.contains("default_index") && !j["default_index"].is_null()) {
    KILN_CHECK(j["default_index"].is_number_integer(), DataError, path, ": \"default_index\" must be an integer or null");
    int64_t d = j["default_index"].get<int64_t>();
    KILN_CHECK(d >= 0 && d < v.size(), DataError, path, ": default_index ", d, " outside [0, ", v.size(), ")");
    v.set_default_index(d);
  }
  return v;
}

Vocab build_vocab(const std::vector<std::vector<std::string>>& token_lists, const VocabOptions& options) {
  size_t k = 0;
  return build_vocab([&](std::vector<std::string>& out) {
    if (k >= token_lists.size()) return false;
    out = token_lists[k++];
    return true;
  }, options);
}

Vocab build_vocab(const std::function<bool(std::vector<std::string>&)>& next, const VocabOptions& options) {
  KILN_CHECK(options.min_freq >= 1, ValueError, "build_vocab: min_freq must be >= 1, got ", options.min_freq);
  KILN_CHECK(options.max_tokens < 0 || options.max_tokens >= static_cast<int64_t>(options.specials.size()), ValueError,
             "build_vocab: max_tokens ", options.max_tokens, " is smaller than the ", options.specials.size(), " specials");
  struct Entry {
    int64_t count = 0;
    int64_t first = 0;
  };
  std::unordered_map<std::string, Entry> counts;
  std::vector<std::string> tokens;
  int64_t seen = 0;
  while (next(tokens)) {
    for (auto& t : tokens) {
      auto [it, inserted] = counts.try_emplace(t);
      if (inserted) it->second.first = seen;
      ++it->second.count;
      ++seen;
    }
  }
  std::vector<std::pair<const std::string*, Entry>> sorted;
  for (auto& [t, e] : counts)
    if (e.count >= options.min_freq &&
        std::find(options.specials.begin(), options.specials.end(), t) == options.specials.end())
      sorted.emplace_back(&t, e);
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second.count != b.second.count ? a.second.count > b.second.count : a.second.first < b.second.first;
  });
  size_t room = sorted.size();
  if (options.max_tokens >= 0) room = std::min(room, static_cast<size_t>(options.max_tokens) - options.specials.size());
  std::vector<std::string> itos;
  if (options.special_first) itos = options.specials;
  for (size_t i = 0; i < room; ++i) itos.push_back(*sorted[i].first);
  if (!options.special_first) itos.insert(itos.end(), options.specials.begin(), options.specials.end());
  return Vocab(std::move(itos));
}

}  // namespace kiln::text
