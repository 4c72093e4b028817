#include <kiln/error.hpp>
#include <kiln/text/bpe.hpp>
#include <kiln/text/vocab.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace kiln;
using namespace kiln::text;
namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

namespace {
fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("kiln_text_test_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}
Strings corpus() {
  return {"the cat sat on the mat", "the cat ate the rat", "a rat sat on a hat", "the hat is on the cat",
          "naïve café crème", "中文 中文 中文", "the the the cat cat"};
}
}  // namespace

TEST(BPE, PreTokenizeLikeGpt2) {
  std::string s = "Hello  world 42x!\n";
  Strings pieces;
  for (auto [b, e] : ByteBPE::pre_tokenize(s)) pieces.push_back(s.substr(b, e - b));
  EXPECT_EQ(pieces, (Strings{"Hello", " ", " world", " 42", "x", "!", "\n"}));
}

TEST(BPE, TrainLearnsFrequentPairsFirst) {
  ByteBPE bpe = ByteBPE::train(corpus(), {.vocab_size = 256 + 20, .min_frequency = 2, .special_tokens = {"<pad>", "<eos>"}});
  EXPECT_EQ(bpe.vocab_size(), 2 + 256 + bpe.num_merges());
  EXPECT_GT(bpe.num_merges(), 5);
  EXPECT_EQ(bpe.id("<pad>"), 0);
  EXPECT_EQ(bpe.id("<eos>"), 1);
  // " the" (8 times) is the most frequent piece: it becomes one token
  EXPECT_GE(bpe.id("Ġthe"), 258);
  EXPECT_EQ(bpe.encode(" the").size(), 1u);
  auto toks = bpe.tokenize("the cat");
  EXPECT_EQ(bpe.detokenize(toks), "the cat");
}

TEST(BPE, RoundTripIsExactForAnyBytes) {
  ByteBPE bpe = ByteBPE::train(corpus(), {.vocab_size = 300});
  for (std::string s : {std::string("the cat sat on the hat"), std::string("unseen wörds ünd 中文 👍🏽\n\ttabs"),
                        std::string("bad utf8 \xFF\xC0 kept"), std::string(""), std::string("   ")}) {
    EXPECT_EQ(bpe.decode(bpe.encode(s)), s);
    EXPECT_EQ(bpe.encode(s), bpe.encode(s));  // second time from the piece cache
    auto t = bpe.tokenize_with_offsets(s);
    if (!t.empty()) {
      EXPECT_EQ(t.back().end, s.size());
    }
  }
  EXPECT_THROW(bpe.decode({bpe.vocab_size()}), IndexError);
}

TEST(BPE, SaveLoadGivesTheSameEncoding) {
  fs::path dir = temp_dir("bpe");
  ByteBPE bpe = ByteBPE::train(corpus(), {.vocab_size = 290, .special_tokens = {"<unk>"}});
  bpe.save((dir / "bpe.json").string());
  ByteBPE again = ByteBPE::load((dir / "bpe.json").string());
  EXPECT_EQ(again.vocab_size(), bpe.vocab_size());
  EXPECT_EQ(again.encode("the naïve cat ate a hat"), bpe.encode("the naïve cat ate a hat"));
  EXPECT_EQ(again.special_tokens(), Strings{"<unk>"});
  std::ofstream(dir / "broken.json") << "{\"format\": \"kiln-byte-bpe\", \"version\": 1, \"merges\": [\"a\"";
  EXPECT_THROW(ByteBPE::load((dir / "broken.json").string()), DataError);
  std::ofstream(dir / "badmerge.json") << R"({"format": "kiln-byte-bpe", "version": 1, "merges": ["ab c"]})";
  try {
    ByteBPE::load((dir / "badmerge.json").string());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("merge 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ByteBPE::train(Strings{}, {.vocab_size = 300}), ValueError);
  EXPECT_THROW(ByteBPE::train(corpus(), {.vocab_size = 10}), ValueError);
  fs::remove_all(dir);
}

TEST(Vocab, BuildWithMinFreqMaxTokensSpecials) {
  std::vector<Strings> docs = {{"b", "a", "b", "c"}, {"a", "b", "d"}, {"e"}};
  Vocab v = build_vocab(docs, {.min_freq = 2, .specials = {"<unk>", "<pad>", "<bos>", "<eos>"}});
  EXPECT_EQ(v.itos(), (Strings{"<unk>", "<pad>", "<bos>", "<eos>", "b", "a"}));
  EXPECT_THROW(v["zzz"], IndexError);
  v.set_default_index(v["<unk>"]);
  EXPECT_EQ(v["zzz"], 0);
  EXPECT_EQ(v.lookup_indices({"a", "b", "q"}), (std::vector<int64_t>{5, 4, 0}));
  EXPECT_EQ(v.lookup_tokens({4, 5}), (Strings{"b", "a"}));
  EXPECT_THROW(v.lookup_token(6), IndexError);
  // ties keep first-seen order: c before d before e
  Vocab all = build_vocab(docs, {.max_tokens = 4, .specials = {"<unk>"}, .special_first = false});
  EXPECT_EQ(all.itos(), (Strings{"b", "a", "c", "<unk>"}));
}

TEST(Vocab, SaveLoadAndBadFiles) {
  fs::path dir = temp_dir("vocab");
  Vocab v(Strings{"<unk>", "hello", "wörld", "line\nbreak"});
  v.set_default_index(0);
  v.save((dir / "v.json").string());
  Vocab w = Vocab::load((dir / "v.json").string());
  EXPECT_EQ(w.itos(), v.itos());
  EXPECT_EQ(w.default_index(), std::optional<int64_t>(0));
  EXPECT_EQ(w["nope"], 0);
  std::ofstream(dir / "garbage.json") << "hello\nworld\n";
  try {
    Vocab::load((dir / "garbage.json").string());
    FAIL();
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("garbage.json"), std::string::npos) << m;
    EXPECT_NE(m.find("byte"), std::string::npos) << m;
  }
  std::ofstream(dir / "dup.json") << R"({"format": "kiln-vocab", "version": 1, "tokens": ["a", "a"]})";
  EXPECT_THROW(Vocab::load((dir / "dup.json").string()), DataError);
  std::ofstream(dir / "range.json") << R"({"format": "kiln-vocab", "version": 1, "default_index": 5, "tokens": ["a"]})";
  EXPECT_THROW(Vocab::load((dir / "range.json").string()), DataError);
  EXPECT_THROW(Vocab::load((dir / "missing.json").string()), DataError);
  fs::remove_all(dir);
}
