// Byte-level BPE: pre-tokenization, training with incremental pair counts, encoding, files.
#include <kiln/error.hpp>
#include <kiln/text/bpe.hpp>
#include <kiln/text/utf8.hpp>

#include "json_file.hpp"

#include <nlohmann/json.hpp>
#include <unicode/uchar.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <queue>
#include <sstream>
#include <unordered_set>

namespace kiln::text {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100.. in order.
const std::array<std::string, 256>& byte_strings() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      std::string s;
      append_utf8(s, printable ? static_cast<char32_t>(b) : next++);
      t[b] = s;
    }
    return t;
  }();
  return table;
}
const std::unordered_map<char32_t, unsigned char>& char_to_byte() {
  static const std::unordered_map<char32_t, unsigned char> table = [] {
    std::unordered_map<char32_t, unsigned char> t;
    for (int b = 0; b < 256; ++b) {
      size_t i = 0;
      t[decode_utf8(byte_strings()[b], i)] = static_cast<unsigned char>(b);
    }
    return t;
  }();
  return table;
}

inline uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

enum class CharClass { Space, Letter, Number, Other };
CharClass classify(char32_t c) {
  if (c < 0x80) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return CharClass::Space;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return CharClass::Letter;
    if (c >= '0' && c <= '9') return CharClass::Number;
    return CharClass::Other;
  }
  if (u_isUWhiteSpace(static_cast<UChar32>(c))) return CharClass::Space;
  int32_t mask = U_GET_GC_MASK(static_cast<UChar32>(c));
  // combining marks stay with the letters they modify
  if (mask & (U_GC_L_MASK | U_GC_M_MASK)) return CharClass::Letter;
  if (mask & U_GC_N_MASK) return CharClass::Number;
  return CharClass::Other;
}

}  // namespace

// Note [BPE pre-tokenization]
// GPT-2 splits with ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`: a run of one class with
// at most one leading ASCII space, and white space where the last space before a word goes with
// the word. This is that rule as a scanner (without GPT-2's English contraction special case).
std::vector<std::pair<size_t, size_t>> ByteBPE::pre_tokenize(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> out;
  const size_t n = s.size();
  size_t i = 0;
  auto class_at = [&](size_t pos, size_t& next) {
    next = pos;
    return classify(decode_utf8(s, next));
  };
  while (i < n) {
    size_t next;
    CharClass c = class_at(i, next);
    size_t start = i;
    if (c == CharClass::Space) {
      // run of spaces [i, j)
      size_t j = next, last = i;
      while (j < n) {
        size_t k;
        if (class_at(j, k) != CharClass::Space) break;
        last = j;
        j = k;
      }
      if (j < n && s[last] == ' ') {
        // the final ASCII space joins the following word
        if (last > i) out.emplace_back(i, last);
        i = last;
        size_t k;
        CharClass wc = class_at(last + 1, k);
        size_t end = k;
        while (end < n) {
          size_t k2;
          if (class_at(end, k2) != wc) break;
          end = k2;
        }
        out.emplace_back(i, end);
        i = end;
      } else {
        out.emplace_back(i, j);
        i = j;
      }
      continue;
    }
    size_t end = next;
    while (end < n) {
      size_t k;
      if (class_at(end, k) != c) break;
      end = k;
    }
    out.emplace_back(start, end);
    i = end;
  }
  return out;
}

namespace {
uint64_t next_cache_id() {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1);
}
}  // namespace

ByteBPE::ByteBPE(std::vector<std::string> special_tokens)
    : specials_(std::move(special_tokens)), cache_id_(next_cache_id()) {
  for (const auto& sp : specials_) {
    KILN_CHECK(!sp.empty(), ValueError, "ByteBPE: a special token is empty");
    KILN_CHECK(!str_to_id_.count(sp), ValueError, "ByteBPE: special token '", sp, "' given twice");
    str_to_id_[sp] = static_cast<int64_t>(token_bytes_.size());
    token_bytes_.push_back(sp);
    token_str_.push_back(sp);
  }
  byte_base_ = static_cast<int32_t>(token_bytes_.size());
  for (int b = 0; b < 256; ++b) {
    const std::string& shown = byte_strings()[b];
    str_to_id_.emplace(shown, static_cast<int64_t>(token_bytes_.size()));
    token_bytes_.push_back(std::string(1, static_cast<char>(b)));
    token_str_.push_back(shown);
  }
}

void ByteBPE::add_merge(int32_t left, int32_t right) {
  auto id = static_cast<int32_t>(token_bytes_.size());
  merge_rank_[pair_key(left, right)] = {static_cast<int32_t>(merges_.size()), id};
  merges_.emplace_back(left, right);
  token_bytes_.push_back(token_bytes_[left] + token_bytes_[right]);
  token_str_.push_back(token_str_[left] + token_str_[right]);
  str_to_id_.emplace(token_str_.back(), id);
}

ByteBPE ByteBPE::train(const std::vector<std::string>& texts, const BPETrainOptions& options) {
  size_t k = 0;
  return train([&](std::string& out) {
    if (k >= texts.size()) return false;
    out = texts[k++];
    return true;
  }, options);
}

ByteBPE ByteBPE::train(const std::function<bool(std::string&)>& next, const BPETrainOptions& options) {
  ByteBPE bpe(options.special_tokens);
  const int64_t base = bpe.vocab_size();
  KILN_CHECK(options.vocab_size >= base, ValueError, "ByteBPE::train: vocab_size ", options.vocab_size,
             " is below the ", base, " tokens every byte-level BPE has (", options.special_tokens.size(),
             " specials + 256 bytes)");
  KILN_CHECK(options.min_frequency >= 1, ValueError, "ByteBPE::train: min_frequency must be >= 1");
  // distinct pieces and their counts
  std::unordered_map<std::string, int64_t> piece_counts;
  std::string text;
  bool any = false;
  while (next(text)) {
    any = any || !text.empty();
    for (auto [b, e] : pre_tokenize(text)) ++piece_counts[text.substr(b, e - b)];
  }
  KILN_CHECK(any, ValueError, "ByteBPE::train: the corpus is empty");
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  words.reserve(piece_counts.size());
  {
    // deterministic order, whatever the hash map's
    std::vector<std::pair<std::string, int64_t>> sorted(piece_counts.begin(), piece_counts.end());
    std::sort(sorted.begin(), sorted.end());
    for (auto& [piece, count] : sorted) {
      std::vector<int32_t> w;
      for (unsigned char b : piece) w.push_back(bpe.byte_base_ + b);
      words.push_back(std::move(w));
      counts.push_back(count);
    }
  }
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::unordered_set<int32_t>> where;
  for (size_t w = 0; w < words.size(); ++w)
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      uint64_t key = pair_key(words[w][i], words[w][i + 1]);
      pair_counts[key] += counts[w];
      where[key].insert(static_cast<int32_t>(w));
    }
  // max-heap by count, ties to the smaller pair key (deterministic); entries go stale and are
  // re-checked against pair_counts when popped
  using Entry = std::pair<int64_t, uint64_t>;
  auto cmp = [](const Entry& a, const Entry& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; };
  std::priority_queue<Entry, std::vector<Entry>, decltype(cmp)> heap(cmp);
  for (auto& [key, c] : pair_counts) heap.push({c, key});

  while (bpe.vocab_size() < options.vocab_size && !heap.empty()) {
    auto [c, key] = heap.top();
    heap.pop();
    auto it = pair_counts.find(key);
    int64_t current = it == pair_counts.end() ? 0 : it->second;
    if (current != c) {
      if (current > 0) heap.push({current, key});
      continue;
    }
    if (c < options.min_frequency) break;
    auto left = static_cast<int32_t>(key >> 32), right = static_cast<int32_t>(key & 0xFFFFFFFFu);
    bpe.add_merge(left, right);
    const int32_t merged = static_cast<int32_t>(bpe.vocab_size() - 1);
    std::vector<int32_t> affected(where[key].begin(), where[key].end());
    std::sort(affected.begin(), affected.end());
    std::unordered_map<uint64_t, int64_t> touched;
    for (int32_t w : affected) {
      auto& sym = words[w];
      const int64_t wc = counts[w];
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        uint64_t k2 = pair_key(sym[i], sym[i + 1]);
        pair_counts[k2] -= wc;
        touched[k2];
      }
      std::vector<int32_t> out;
      out.reserve(sym.size());
      for (size_t i = 0; i < sym.size(); ++i) {
        if (i + 1 < sym.size() && sym[i] == left && sym[i + 1] == right) {
          out.push_back(merged);
          ++i;
        } else {
          out.push_back(sym[i]);
        }
      }
      sym.swap(out);
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        uint64_t k2 = pair_key(sym[i], sym[i + 1]);
        pair_counts[k2] += wc;
        where[k2].insert(w);
        touched[k2];
      }
    }
    pair_counts.erase(key);
    where.erase(key);
    for (auto& [k2, unused] : touched) {
      auto pc = pair_counts.find(k2);
      if (pc == pair_counts.end()) continue;
      if (pc->second <= 0) {
        pair_counts.erase(pc);
        continue;
      }
      heap.push({pc->second, k2});
    }
  }
  return bpe;
}

// Note [BPE piece cache]
// Text repeats its pieces (" the", " of", ...), so each thread remembers the ids of the pieces it
// has encoded for the model it used last (keyed by cache_id_; a model's merges never change once train or load
// has returned it). The cache is dropped when it reaches kMaxCached pieces, which bounds memory.
void ByteBPE::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  constexpr size_t kMaxCached = 1 << 16;
  thread_local uint64_t cached_model = 0;
  thread_local std::unordered_map<std::string, std::vector<int32_t>> cache;
  if (cached_model != cache_id_) {
    cache.clear();
    cached_model = cache_id_;
  }
  if (auto it = cache.find(std::string(piece)); it != cache.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  std::vector<int32_t> sym;
  sym.reserve(piece.size());
  for (unsigned char b : piece) sym.push_back(byte_base_ + b);
  while (sym.size() > 1) {
    int32_t best_rank = INT32_MAX, best_id = -1;
    size_t best_i = 0;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = merge_rank_.find(pair_key(sym[i], sym[i + 1]));
      if (it != merge_rank_.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        best_id = it->second.second;
        best_i = i;
      }
    }
    if (best_id < 0) break;
    const int32_t l = sym[best_i], r = sym[best_i + 1];
    size_t o = 0;
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] == l && sym[i + 1] == r) {
        sym[o++] = best_id;
        ++i;
      } else {
        sym[o++] = sym[i];
      }
    }
    sym.resize(o);
  }
  out.insert(out.end(), sym.begin(), sym.end());
  if (cache.size() >= kMaxCached) cache.clear();
  cache.emplace(std::string(piece), std::move(sym));
}

std::vector<int64_t> ByteBPE::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  for (auto [b, e] : pre_tokenize(text)) encode_piece(text.substr(b, e - b), ids);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::string ByteBPE::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    KILN_CHECK(id >= 0 && id < vocab_size(), IndexError, "ByteBPE::decode: id ", id, " outside the vocabulary of ",
               vocab_size(), " tokens");
    out += token_bytes_[static_cast<size_t>(id)];
  }
  return out;
}

const std::string& ByteBPE::token(int64_t id) const {
  KILN_CHECK(id >= 0 && id < vocab_size(), IndexError, "ByteBPE::token: id ", id, " outside the vocabulary of ",
             vocab_size(), " tokens");
  return token_str_[static_cast<size_t>(id)];
}

int64_t ByteBPE::id(const std::string& token) const {
  auto it = str_to_id_.find(token);
  return it == str_to_id_.end() ? -1 : it->second;
}

std::vector<Token> ByteBPE::tokenize_with_offsets(std::string_view text) const {
  std::vector<Token> out;
  std::vector<int32_t> ids;
  for (auto [b, e] : pre_tokenize(text)) {
    ids.clear();
    encode_piece(text.substr(b, e - b), ids);
    size_t pos = b;
    for (int32_t id : ids) {
      size_t len = token_bytes_[id].size();
      out.push_back({token_str_[id], pos, pos + len});
      pos += len;
    }
  }
  return out;
}

std::string ByteBPE::detokenize(const std::vector<std::string>& tokens) const {
  std::string out;
  const auto& table = char_to_byte();
  for (const auto& t : tokens) {
    auto sp = std::find(specials_.begin(), specials_.end(), t);
    if (sp != specials_.end()) {
      out += t;
      continue;
    }
    size_t i = 0;
    while (i < t.size()) {
      char32_t c = decode_utf8(t, i);
      auto it = table.find(c);
      KILN_CHECK(it != table.end(), ValueError, "ByteBPE::detokenize: '", t, "' is not a byte-level token");
      out += static_cast<char>(it->second);
    }
  }
  return out;
}

void ByteBPE::save(const std::string& path) const {
  nlohmann::ordered_json j;
  j["format"] = "kiln-byte-bpe";
  j["version"] = 1;
  j["special_tokens"] = specials_;
  nlohmann::json merges = nlohmann::json::array();
  for (auto [l, r] : merges_) merges.push_back(token_str_[l] + " " + token_str_[r]);
  j["merges"] = merges;
  json_file::write_json_file(path, j);
}

ByteBPE ByteBPE::load(const std::string& path) {
  const nlohmann::json j = json_file::read_json_file(path, "BPE file", "kiln-byte-bpe", 1);
  KILN_CHECK(j.contains("merges") && j["merges"].is_array(), DataError, path, ": \"merges\" must be an array");
  std::vector<std::string> specials;
  if (j.contains("special_tokens")) {
    KILN_CHECK(j["special_tokens"].is_array(), DataError, path, ": \"special_tokens\" must be an array");
    for (const auto& s : j["special_tokens"]) {
      KILN_CHECK(s.is_string(), DataError, path, ": special tokens must be strings");
      specials.push_back(s.get<std::string>());
    }
  }
  ByteBPE bpe(specials);
  size_t n = 0;
  for (const auto& m : j["merges"]) {
    KILN_CHECK(m.is_string(), DataError, path, ": merge ", n, " is not a string");
    std::string s = m.get<std::string>();
    size_t sp = s.find(' ');
    KILN_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < s.size(), DataError, path, ": merge ", n, " '", s,
               "' is not two tokens separated by a space");
    int64_t l = bpe.id(s.substr(0, sp)), r = bpe.id(s.substr(sp + 1));
    KILN_CHECK(l >= bpe.byte_base_ && r >= bpe.byte_base_, DataError, path, ": merge ", n, " '", s,
               "' names a token that no earlier merge made");
    KILN_CHECK(!bpe.merge_rank_.count(pair_key(static_cast<int32_t>(l), static_cast<int32_t>(r))), DataError, path,
               ": merge ", n, " '", s, "' repeats an earlier merge");
    bpe.add_merge(static_cast<int32_t>(l), static_cast<int32_t>(r));
    ++n;
  }
  return bpe;
}

}  // namespace kiln::text
