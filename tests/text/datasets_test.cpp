#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/text/collate.hpp>
#include <kiln/text/datasets.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

using namespace kiln;
using namespace kiln::text;
namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

namespace {
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("kiln_text_ds_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& rel, const std::string& content) const {
    fs::path p = path / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Csv, Rfc4180Quoting) {
  auto rows = parse_csv("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",,x\n\n", "t.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (Strings{"a", "b,c", "say \"hi\""}));
  EXPECT_EQ(rows[1], (Strings{"multi\nline", "", "x"}));
  EXPECT_EQ(parse_csv("a;b\n", "t", {.delimiter = ';'})[0], (Strings{"a", "b"}));
  EXPECT_EQ(parse_csv("h1,h2\n1,2", "t", {.header = true}), (std::vector<Strings>{{"1", "2"}}));
}

TEST(Csv, ErrorsNameFileAndLine) {
  // the record on line 4 (after a record spanning lines 2-3) has 2 fields
  std::string m = error_of([] { parse_csv("a,b,c\n\"x\ny\",b,c\nonly,two\n", "news.csv"); });
  EXPECT_NE(m.find("news.csv:4"), std::string::npos) << m;
  EXPECT_NE(m.find("expected 3 fields, found 2"), std::string::npos) << m;
  m = error_of([] { parse_csv("a,\"open\n", "q.csv"); });
  EXPECT_NE(m.find("q.csv:1"), std::string::npos) << m;
  EXPECT_NE(m.find("not closed"), std::string::npos) << m;
  m = error_of([] { parse_csv("a,\"b\"c\n", "r.csv"); });
  EXPECT_NE(m.find("r.csv:1"), std::string::npos) << m;
}

TEST(Csv, AgNewsLayout) {
  TempDir d("agnews");
  std::string f = d.write("train.csv",
                          "\"3\",\"Wall St. Bears Claw Back\",\"Reuters - Short-sellers, Wall Street's \"\"dwindling\"\" band\"\n"
                          "\"4\",\"Tech\",\"New chips\"\n"
                          "\"1\",\"World\",\"Multi\nline\"\n");
  TextRecords r = read_csv_classification(f, {.classes = {"World", "Sports", "Business", "Sci/Tech"}});
  ASSERT_EQ(r.size(), 3);
  EXPECT_EQ(r.labels, (std::vector<int64_t>{2, 3, 0}));
  EXPECT_EQ(r.texts[0], "Wall St. Bears Claw Back Reuters - Short-sellers, Wall Street's \"dwindling\" band");
  EXPECT_EQ(r.texts[2], "World Multi\nline");
  std::string bad = d.write("bad.csv", "\"9\",\"a\",\"b\"\n");
  std::string m = error_of([&] { read_csv_classification(bad, {.classes = {"a", "b"}}); });
  EXPECT_NE(m.find("bad.csv"), std::string::npos) << m;
  std::string notint = d.write("notint.csv", "\"x\",\"a\",\"b\"\n");
  EXPECT_NE(error_of([&] { read_csv_classification(notint); }).find("not an integer"), std::string::npos);
}

TEST(Csv, InvalidUtf8ReplaceOrRefuse) {
  TempDir d("csvutf8");
  std::string f = d.write("u.csv", "1,ok\xFF\n");
  EXPECT_EQ(read_csv(f)[0][1], "ok\xEF\xBF\xBD");
  std::string m = error_of([&] { read_csv(f, {.invalid_utf8 = InvalidUtf8::Refuse}); });
  EXPECT_NE(m.find("u.csv"), std::string::npos) << m;
  EXPECT_NE(m.find("byte offset 4"), std::string::npos) << m;
}

TEST(TextFolder, ImdbLayout) {
  TempDir d("imdb");
  d.write("train/pos/0_9.txt", "Great film");
  d.write("train/pos/1_8.txt", "Loved it");
  d.write("train/neg/2_1.txt", "Awful");
  d.write("train/neg/urls.url", "ignored");
  TextRecords r = read_text_folder((d.path / "train").string());
  EXPECT_EQ(r.classes, (Strings{"neg", "pos"}));
  EXPECT_EQ(r.texts, (Strings{"Awful", "Great film", "Loved it"}));
  EXPECT_EQ(r.labels, (std::vector<int64_t>{0, 1, 1}));
  fs::create_directories(d.path / "train" / "unsup");
  std::string m = error_of([&] { read_text_folder((d.path / "train").string()); });
  EXPECT_NE(m.find("unsup"), std::string::npos) << m;
  EXPECT_NE(m.find("holds no files"), std::string::npos) << m;
  EXPECT_EQ(read_text_folder((d.path / "train").string(), {.classes = {"pos", "neg"}}).labels,
            (std::vector<int64_t>{0, 0, 1}));
  fs::create_directories(d.path / "empty");
  EXPECT_NE(error_of([&] { read_text_folder((d.path / "empty").string()); }).find("no class folders"), std::string::npos);
}

TEST(Fortunes, RecordsSplitByPercentLines) {
  auto r = parse_fortunes("First line\nsecond line\n%\n\n%\nThird, with 100% inside\n%\r\nLast\n");
  EXPECT_EQ(r, (Strings{"First line\nsecond line", "Third, with 100% inside", "Last"}));
  EXPECT_TRUE(parse_fortunes("%\n%\n").empty());
  TempDir d("fortunes");
  d.write("fort/cookie", "a\n%\nb\n");
  d.write("fort/cookie.dat", "binary");
  d.write("fort/cookie.u8", "x");
  Strings files = list_fortune_files((d.path / "fort").string());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(read_fortunes(files[0]), (Strings{"a", "b"}));
}

TEST(LineCorpus, ReadLinesBatchifyAndBptt) {
  TempDir d("lines");
  std::string f = d.write("wiki.train.tokens", " = Title = \r\n\nthe cat sat\non the mat\n");
  Strings lines = read_lines(f, /*skip_empty=*/true);
  EXPECT_EQ(lines, (Strings{" = Title = ", "the cat sat", "on the mat"}));
  Vocab v(Strings{"<unk>", "<eos>", "the", "cat", "sat", "on", "mat"});
  v.set_default_index(0);
  WhitespaceTokenizer tok;
  Tensor stream = encode_corpus({"the cat sat", "on the mat"}, tok, v, v["<eos>"]);
  EXPECT_EQ(stream.to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 1, 5, 2, 6, 1}));
  Tensor src = batchify(stream, 3);  // 8 tokens -> 2 rows of 3 columns (2 tokens dropped)
  ASSERT_EQ(src.shape(), Shape({2, 3}));
  // column b holds stream[b*2 .. b*2+2)
  EXPECT_EQ(src.to_vector<int64_t>(), (std::vector<int64_t>{2, 4, 5, 3, 1, 2}));
  Tensor big = batchify(arange(20), 2);  // [10, 2]: column 0 = 0..9, column 1 = 10..19
  auto [x, y] = bptt_window(big, 0, 4);
  EXPECT_EQ(x.shape(), Shape({4, 2}));
  EXPECT_EQ(x.select(1, 1).to_vector<int64_t>(), (std::vector<int64_t>{10, 11, 12, 13}));
  EXPECT_EQ(y.select(1, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4}));
  auto [x2, y2] = bptt_window(big, 8, 4);  // last window is short
  EXPECT_EQ(x2.size(0), 1);
  BPTTBatches batches(big, 4);
  EXPECT_EQ(batches.num_batches(), 3);
  int64_t n = 0, rows = 0;
  batches.start_epoch(0);
  while (auto b = batches.next()) {
    ++n;
    rows += b->input.size(1);
    EXPECT_EQ(b->target.numel(), b->input.numel());
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(rows, 9);
  EXPECT_THROW(batchify(arange(2), 3), ValueError);
  EXPECT_THROW(encode_corpus({"", "  "}, tok, v), ValueError);
}

TEST(Collate, PadsToLongestAndReturnsLengths) {
  PaddedBatch b = pad_sequences({from_vector<int64_t>({5, 6, 7}), from_vector<int64_t>({8}, Shape{1})}, 0);
  EXPECT_EQ(b.tokens.shape(), Shape({2, 3}));
  EXPECT_EQ(b.tokens.to_vector<int64_t>(), (std::vector<int64_t>{5, 6, 7, 8, 0, 0}));
  EXPECT_EQ(b.lengths.to_vector<int64_t>(), (std::vector<int64_t>{3, 1}));
  PaddedBatch t = pad_sequences({from_vector<int64_t>({5, 6, 7}), from_vector<int64_t>({8}, Shape{1})}, 1, /*batch_first=*/false);
  EXPECT_EQ(t.tokens.to_vector<int64_t>(), (std::vector<int64_t>{5, 8, 6, 1, 7, 1}));
  EXPECT_EQ(lengths_from_padding(b.tokens, 0).to_vector<int64_t>(), (std::vector<int64_t>{3, 1}));
  EXPECT_THROW(pad_sequences({}, 0), ValueError);
}

TEST(Collate, EncodedDatasetThroughDataLoader) {
  TextRecords r;
  r.texts = {"a b c", "b", "c c", "a"};
  r.labels = {0, 1, 0, 1};
  r.classes = {"x", "y"};
  Vocab v(Strings{"<pad>", "<unk>", "a", "b", "c"});
  v.set_default_index(1);
  WhitespaceTokenizer tok;
  auto ds = encode(r, tok, v, {.max_length = 2, .eos_index = -1});
  EXPECT_EQ(ds->lengths(), (std::vector<int64_t>{2, 1, 2, 1}));
  data::DataLoader loader(ds, {.batch_size = 2, .collate = pad_collate(0)});
  loader.start_epoch(0);
  auto b = loader.next();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->input.to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 3, 0}));
  EXPECT_EQ(b->target.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

TEST(Collate, BucketSamplerGroupsSimilarLengths) {
  std::vector<int64_t> lengths;
  for (int i = 0; i < 400; ++i) lengths.push_back((i * 37) % 100);
  BucketSampler s(lengths, 8, {.bucket_batches = 50, .seed = 3});
  s.set_epoch(0);
  std::vector<int64_t> order = s.indices();
  ASSERT_EQ(order.size(), 400u);
  EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 400u);  // a permutation
  // with one pool of all 400, every batch's length spread is tiny compared with random batches
  int64_t spread = 0;
  for (size_t b = 0; b < 400; b += 8) {
    int64_t lo = 1000, hi = -1;
    for (size_t k = b; k < b + 8; ++k) lo = std::min(lo, lengths[order[k]]), hi = std::max(hi, lengths[order[k]]);
    spread += hi - lo;
  }
  EXPECT_LE(spread / 50, 3);
  s.set_epoch(1);
  EXPECT_NE(s.indices(), order);  // reshuffled per epoch
}
