// kiln train --task langid | lm: text models on Debian's fortunes (fortunes, fortunes-de, -es, -it,
// -cs, -ru, -bg, -zh).
//
// langid: fastText-style language identification. Each record (one fortune) is NFKC-normalized and
// lower-cased; its character 1- to 3-grams (with word-boundary marks) are hashed into buckets; an
// EmbeddingBag averages their vectors and a Linear layer scores the eight languages. Records are
// split into train / validation / test per language (held out by record, seeded), batches are
// bucketed by length and padded (text::BucketSampler, text::pad_collate).
//
// lm: a word-level LSTM language model on the English fortunes (basic_english tokens, a Vocab of
// the training split), trained on BPTT windows; reports validation and test perplexity.
#include "train_text.hpp"

#include <kiln/callbacks.hpp>
#include <kiln/data/dataloader.hpp>
#include <kiln/autograd.hpp>
#include <kiln/device.hpp>
#include <kiln/model.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/nn/recurrent.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>
#include <kiln/text/collate.hpp>
#include <kiln/text/datasets.hpp>
#include <kiln/text/normalize.hpp>
#include <kiln/text/tokenizer.hpp>
#include <kiln/text/vocab.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kFortuneDir = "/usr/share/games/fortunes";

// Files that hold pictures, not language.
bool is_art(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  return name == "art" || name == "ascii-art" || name == "asciiart";
}

struct Language {
  const char* code;
  const char* name;
  const char* package;
};
const std::vector<Language> kLanguages = {
    {"en", "English", "fortunes"}, {"de", "German", "fortunes-de"},    {"es", "Spanish", "fortunes-es"},
    {"it", "Italian", "fortunes-it"}, {"cs", "Czech", "fortunes-cs"},  {"ru", "Russian", "fortunes-ru"},
    {"bg", "Bulgarian", "fortunes-bg"}, {"zh", "Chinese", "fortunes-zh"}};

// The fortune files of one language under root. English is the top folder minus the Chinese files
// fortunes-zh puts there (the other languages' top-level entries are symbolic links, skipped).
std::vector<std::string> language_files(const std::string& root, const std::string& code) {
  static const std::vector<std::string> zh = {"chinese", "song100", "tang300"};
  std::vector<std::string> files;
  if (code == "zh") {
    for (const auto& n : zh)
      if (fs::is_regular_file(fs::path(root) / n)) files.push_back((fs::path(root) / n).string());
  } else if (code == "en") {
    for (auto& f : text::list_fortune_files(root))
      if (std::find(zh.begin(), zh.end(), fs::path(f).filename().string()) == zh.end()) files.push_back(f);
  } else if (fs::is_directory(fs::path(root) / code)) {
    files = text::list_fortune_files((fs::path(root) / code).string());
  }
  files.erase(std::remove_if(files.begin(), files.end(), is_art), files.end());
  return files;
}

std::vector<std::string> read_language(const std::string& root, const Language& lang) {
  std::vector<std::string> files = language_files(root, lang.code);
  KILN_CHECK(!files.empty(), DataError, "no ", lang.name, " fortune files under ", root, " (install Debian's ",
             lang.package, " package: sudo apt-get install ", lang.package, ")");
  std::vector<std::string> records;
  for (const auto& f : files)
    for (auto& r : text::read_fortunes(f)) {
      std::string clean = text::clean_whitespace(r);
      if (text::count_code_points(clean) >= 10) records.push_back(std::move(clean));
    }
  KILN_CHECK(!records.empty(), DataError, "the ", lang.name, " fortune files under ", root, " hold no records");
  return records;
}

// Shuffled (seeded) then cut into train / validation / test by record.
struct Split3 {
  std::vector<std::string> train, valid, test;
};
Split3 split_records(std::vector<std::string> records, uint64_t seed, double valid_frac, double test_frac) {
  std::vector<int64_t> perm = data::random_permutation(static_cast<int64_t>(records.size()), seed);
  const auto n = static_cast<int64_t>(records.size());
  const auto n_test = static_cast<int64_t>(std::round(n * test_frac));
  const auto n_valid = static_cast<int64_t>(std::round(n * valid_frac));
  Split3 s;
  for (int64_t i = 0; i < n; ++i) {
    std::string& r = records[static_cast<size_t>(perm[static_cast<size_t>(i)])];
    (i < n_test ? s.test : i < n_test + n_valid ? s.valid : s.train).push_back(std::move(r));
  }
  return s;
}

std::string fortune_root(const po::variables_map& vm) {
  std::string dir = vm["data-dir"].as<std::string>();
  return dir.empty() ? kFortuneDir : dir;
}

void write_json(const std::string& file, const nlohmann::ordered_json& j) {
  std::ofstream f(file);
  f << j.dump(2) << "\n";
  f.close();
  KILN_CHECK(f.good(), DataError, file, ": cannot write the JSON summary");
  std::cout << "Summary written to " << file << "\n";
}

// ---------------------------------------------------------------- langid
// FNV-1a, so the features are the same on every machine and in every run.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

struct NgramFeatures {
  int64_t buckets;
  int64_t max_n;
  int64_t max_chars;
  // Bucket ids in [1, buckets) of the character n-grams of " word " for each word (bucket 0 pads).
  std::vector<int64_t> operator()(const std::string& record) const {
    std::string norm = text::to_lower(text::normalize(record, text::NormalizationForm::NFKC));
    // code point boundaries of "␣record␣", truncated to max_chars code points
    std::string s = " ";
    size_t i = 0, chars = 0;
    while (i < norm.size() && chars < static_cast<size_t>(max_chars)) {
      size_t start = i;
      (void)text::decode_utf8(norm, i);
      s.append(norm, start, i - start);
      ++chars;
    }
    s += ' ';
    std::vector<size_t> starts;
    for (size_t k = 0; k < s.size(); ++k)
      if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) starts.push_back(k);
    starts.push_back(s.size());
    std::vector<int64_t> ids;
    const size_t cps = starts.size() - 1;
    for (size_t a = 0; a < cps; ++a)
      for (int64_t n = 1; n <= max_n && a + n <= cps; ++n) {
        std::string_view g(s.data() + starts[a], starts[a + n] - starts[a]);
        if (n == 1 && g == " ") continue;
        ids.push_back(1 + static_cast<int64_t>((fnv1a(g) + static_cast<uint64_t>(n)) % static_cast<uint64_t>(buckets - 1)));
      }
    if (ids.empty()) ids.push_back(0);
    return ids;
  }
};

int run_langid(const po::variables_map& vm) {
  const std::string root = fortune_root(vm);
  const uint64_t seed = vm["seed"].as<uint64_t>();
  const int epochs = vm["epochs"].defaulted() ? 3 : vm["epochs"].as<int>();
  const int64_t batch_size = vm["batch-size"].defaulted() ? 64 : vm["batch-size"].as<int64_t>();
  const int64_t per_language = vm.count("limit") ? vm["limit"].as<int64_t>() : 3000;
  const int64_t dim = vm["embedding-dim"].defaulted() ? 32 : vm["embedding-dim"].as<int64_t>();
  const NgramFeatures features{vm["buckets"].as<int64_t>(), 3, 300};
  const std::string optimizer_name = vm["optimizer"].defaulted() ? "adam" : vm["optimizer"].as<std::string>();
  const double lr = vm.count("lr") ? vm["lr"].as<double>() : (optimizer_name == "adam" ? 0.01 : 0.5);
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : "langid.kiln";
  if (epochs < 1 || batch_size < 1 || per_language < 10) throw UsageError("--epochs, --batch-size >= 1, --limit >= 10");
  if (features.buckets < 2) throw UsageError("--buckets must be at least 2");

  // ---- data: per language, a seeded sample of at most `per_language` records, split 80/10/10
  auto start = Clock::now();
  text::TextRecords train, valid, test;
  std::vector<std::string> classes;
  for (size_t c = 0; c < kLanguages.size(); ++c) {
    const Language& lang = kLanguages[c];
    classes.push_back(lang.code);
    std::vector<std::string> records = read_language(root, lang);
    std::vector<int64_t> perm = data::random_permutation(static_cast<int64_t>(records.size()), seed + 7 * c);
    std::vector<std::string> sample;
    for (size_t i = 0; i < perm.size() && static_cast<int64_t>(sample.size()) < per_language; ++i)
      sample.push_back(std::move(records[static_cast<size_t>(perm[i])]));
    Split3 s = split_records(std::move(sample), seed + 1000 + c, 0.1, 0.1);
    std::cout << "  " << lang.code << " (" << lang.name << "): " << s.train.size() << " train, " << s.valid.size()
              << " validation, " << s.test.size() << " test records\n";
    for (auto [dst, src] : {std::make_pair(&train, &s.train), std::make_pair(&valid, &s.valid), std::make_pair(&test, &s.test)})
      for (auto& r : *src) {
        dst->texts.push_back(std::move(r));
        dst->labels.push_back(static_cast<int64_t>(c));
      }
  }
  auto featurize = [&](const text::TextRecords& r) {
    std::vector<std::vector<int64_t>> ids;
    ids.reserve(r.texts.size());
    for (const auto& t : r.texts) ids.push_back(features(t));
    return std::make_shared<text::EncodedTextDataset>(std::move(ids), r.labels);
  };
  auto train_ds = featurize(train), valid_ds = featurize(valid), test_ds = featurize(test);
  std::printf("Read and featurized %lld records in %.1f s\n", static_cast<long long>(train.size() + valid.size() + test.size()),
              std::chrono::duration<double>(Clock::now() - start).count());

  auto sampler = std::make_shared<text::BucketSampler>(train_ds->lengths(), batch_size,
                                                       text::BucketSamplerOptions{.bucket_batches = 50, .seed = seed});
  data::DataLoader train_loader(train_ds, {.batch_size = batch_size, .collate = text::pad_collate(0), .sampler = sampler});
  auto eval_loader = [&](std::shared_ptr<text::EncodedTextDataset> ds) {
    auto s = std::make_shared<text::BucketSampler>(ds->lengths(), 256, text::BucketSamplerOptions{.shuffle = false});
    return std::make_unique<data::DataLoader>(ds, data::DataLoaderOptions{.batch_size = 256, .collate = text::pad_collate(0), .sampler = s});
  };
  auto valid_loader = eval_loader(valid_ds), test_loader = eval_loader(test_ds);

  // ---- model: fastText
  manual_seed(seed);
  nn::Sequential net{nn::EmbeddingBag(features.buckets, dim, {.mode = "mean", .padding_idx = 0}),
                     nn::Linear(dim, static_cast<int64_t>(classes.size()))};
  Model model(net.ptr());
  if (optimizer_name == "adam")
    model.compile(optim::Adam(net->parameters(), lr), "cross_entropy", {"accuracy"});
  else
    model.compile(optim::SGD(net->parameters(), lr), "cross_entropy", {"accuracy"});
  std::cout << "\nTraining fastText language ID (EmbeddingBag " << features.buckets << " x " << dim
            << " over hashed character 1-3-grams, Linear " << dim << " -> " << classes.size() << ") on "
            << default_device().str() << ": " << optimizer_name << " lr " << lr << ", batch " << batch_size << ", "
            << epochs << " epochs\n";
  auto fit_start = Clock::now();
  History history = model.fit(train_loader, {.epochs = epochs, .validation = valid_loader.get(),
                                             .callbacks = {std::make_shared<callbacks::ProgressBar>()}});
  const double fit_seconds = std::chrono::duration<double>(Clock::now() - fit_start).count();
  Logs test_logs = model.evaluate(*test_loader);
  const double accuracy = test_logs.at("accuracy");
  // per-language accuracy (the test loader visits records in its bucketed order: follow it)
  std::vector<int64_t> right(classes.size(), 0), total(classes.size(), 0);
  {
    NoGradGuard no_grad;
    net->eval();
    test_loader->start_epoch(0);
    while (auto batch = test_loader->next()) {
      std::vector<int64_t> pred = argmax(net(batch->input), 1).to_vector<int64_t>();
      std::vector<int64_t> truth = batch->target.to_vector<int64_t>();
      for (size_t k = 0; k < pred.size(); ++k) {
        ++total[static_cast<size_t>(truth[k])];
        right[static_cast<size_t>(truth[k])] += pred[k] == truth[k];
      }
    }
  }
  nlohmann::ordered_json accuracy_by_language;
  std::cout << "\nPer-language test accuracy:";
  for (size_t c = 0; c < classes.size(); ++c) {
    double a = total[c] ? static_cast<double>(right[c]) / static_cast<double>(total[c]) : 0.0;
    accuracy_by_language[classes[c]] = a;
    std::printf(" %s %.3f (%lld/%lld)%s", classes[c].c_str(), a, static_cast<long long>(right[c]),
                static_cast<long long>(total[c]), c + 1 < classes.size() ? "," : "\n");
  }

  net->eval();
  nlohmann::ordered_json metadata = {{"task", "langid"},
                                     {"classes", classes},
                                     {"features", {{"kind", "hashed character n-grams, FNV-1a"},
                                                   {"buckets", features.buckets},
                                                   {"max_n", features.max_n},
                                                   {"max_chars", features.max_chars},
                                                   {"normalize", "nfkc,lower"}}},
                                     {"test_accuracy", accuracy}};
  save_checkpoint(out, *net.ptr(), nullptr, epochs - 1, metadata);
  std::printf("\nTest accuracy: %.4f (loss %.4f, %lld held-out records, 8 languages); fit %.1f s\n", accuracy,
              test_logs.at("loss"), static_cast<long long>(test.size()), fit_seconds);
  std::cout << "Model saved to " << out << "\n";
  if (vm.count("json"))
    write_json(vm["json"].as<std::string>(), {{"task", "langid"},
                                              {"backend", default_device().str()},
                                              {"epochs", epochs},
                                              {"records_per_language", per_language},
                                              {"train_records", train.size()},
                                              {"test_records", test.size()},
                                              {"test_accuracy", accuracy},
                                              {"test_accuracy_per_language", accuracy_by_language},
                                              {"test_loss", test_logs.at("loss")},
                                              {"fit_seconds", fit_seconds},
                                              {"seed", seed}});
  return kExitOk;
}

// ---------------------------------------------------------------- lm
int run_lm(const po::variables_map& vm) {
  const std::string root = fortune_root(vm);
  const uint64_t seed = vm["seed"].as<uint64_t>();
  const int epochs = vm["epochs"].defaulted() ? 2 : vm["epochs"].as<int>();
  const int64_t batch_size = vm["batch-size"].defaulted() ? 32 : vm["batch-size"].as<int64_t>();
  const int64_t bptt = vm["bptt"].as<int64_t>();
  const int64_t dim = vm["embedding-dim"].defaulted() ? 128 : vm["embedding-dim"].as<int64_t>();
  const int64_t hidden = vm["hidden-size"].as<int64_t>();
  const int64_t max_vocab = vm["max-vocab"].as<int64_t>();
  const std::string optimizer_name = vm["optimizer"].defaulted() ? "adam" : vm["optimizer"].as<std::string>();
  const double lr = vm.count("lr") ? vm["lr"].as<double>() : (optimizer_name == "adam" ? 2e-3 : 1.0);
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : "lm.kiln";
  if (epochs < 1 || batch_size < 1 || bptt < 2) throw UsageError("--epochs, --batch-size >= 1 and --bptt >= 2");

  std::vector<std::string> records = read_language(root, kLanguages[0]);
  if (vm.count("limit")) {
    int64_t limit = vm["limit"].as<int64_t>();
    if (limit < 100) throw UsageError("--limit must be at least 100 records");
    if (static_cast<int64_t>(records.size()) > limit) records.resize(static_cast<size_t>(limit));
  }
  Split3 s = split_records(std::move(records), seed, 0.05, 0.05);
  text::BasicEnglishTokenizer tokenizer;
  std::vector<std::string> tokens;
  size_t next_record = 0;
  text::Vocab vocab = text::build_vocab(
      [&](std::vector<std::string>& out_tokens) {
        if (next_record >= s.train.size()) return false;
        out_tokens = tokenizer.tokenize(s.train[next_record++]);
        return true;
      },
      {.min_freq = 2, .max_tokens = max_vocab, .specials = {"<unk>", "<eos>"}});
  vocab.set_default_index(vocab["<unk>"]);
  const int64_t eos = vocab["<eos>"];
  Tensor train_stream = text::encode_corpus(s.train, tokenizer, vocab, eos);
  Tensor valid_stream = text::encode_corpus(s.valid, tokenizer, vocab, eos);
  Tensor test_stream = text::encode_corpus(s.test, tokenizer, vocab, eos);
  std::cout << "English fortunes: " << s.train.size() << " / " << s.valid.size() << " / " << s.test.size()
            << " records (train / validation / test), " << train_stream.numel() << " / " << valid_stream.numel() << " / "
            << test_stream.numel() << " tokens, vocabulary " << vocab.size() << " (basic_english, min_freq 2)\n";
  const int64_t eval_batch = 10;
  text::BPTTBatches train_batches(text::batchify(train_stream, batch_size), bptt);
  text::BPTTBatches valid_batches(text::batchify(valid_stream, eval_batch), bptt);
  text::BPTTBatches test_batches(text::batchify(test_stream, eval_batch), bptt);

  manual_seed(seed);
  const int64_t v = vocab.size();
  nn::Sequential net{nn::Embedding(v, dim), nn::Dropout(0.2),
                     nn::LSTM(dim, hidden, {.batch_first = true}), nn::Dropout(0.2),
                     nn::Linear(hidden, v), nn::Flatten(0, 1)};
  Model model(net.ptr());
  if (optimizer_name == "adam")
    model.compile(optim::Adam(net->parameters(), lr), "cross_entropy");
  else
    model.compile(optim::SGD(net->parameters(), lr), "cross_entropy");
  std::cout << "Training a word LSTM language model (Embedding " << v << " x " << dim << ", LSTM " << dim << " -> "
            << hidden << ", Linear " << hidden << " -> " << v << ") on " << default_device().str() << ": "
            << optimizer_name << " lr " << lr << ", batch " << batch_size << ", BPTT " << bptt << ", " << epochs
            << " epochs\n";
  auto fit_start = Clock::now();
  History history = model.fit(train_batches, {.epochs = epochs, .validation = &valid_batches,
                                              .callbacks = {std::make_shared<callbacks::ProgressBar>()}});
  const double fit_seconds = std::chrono::duration<double>(Clock::now() - fit_start).count();
  Logs valid_logs = model.evaluate(valid_batches);
  Logs test_logs = model.evaluate(test_batches);
  const double valid_ppl = std::exp(valid_logs.at("loss")), test_ppl = std::exp(test_logs.at("loss"));
  net->eval();
  vocab.save(out + ".vocab.json");
  save_checkpoint(out, *net.ptr(), nullptr, epochs - 1,
                  {{"task", "lm"}, {"tokenizer", "basic_english"}, {"vocab", out + ".vocab.json"},
                   {"valid_perplexity", valid_ppl}, {"test_perplexity", test_ppl}});
  std::printf("\nValidation perplexity: %.1f (loss %.4f); test perplexity: %.1f; fit %.1f s\n", valid_ppl,
              valid_logs.at("loss"), test_ppl, fit_seconds);
  std::cout << "Model saved to " << out << ", vocabulary to " << out << ".vocab.json\n";
  if (vm.count("json"))
    write_json(vm["json"].as<std::string>(), {{"task", "lm"},
                                              {"backend", default_device().str()},
                                              {"epochs", epochs},
                                              {"vocab_size", v},
                                              {"train_tokens", train_stream.numel()},
                                              {"valid_perplexity", valid_ppl},
                                              {"test_perplexity", test_ppl},
                                              {"fit_seconds", fit_seconds},
                                              {"seed", seed}});
  return kExitOk;
}

}  // namespace

void declare_text_train_options(Options& o) {
  o.visible.add_options()
      ("buckets", po::value<int64_t>()->default_value(1 << 14), "langid: hash buckets for character n-grams")
      ("embedding-dim", po::value<int64_t>()->default_value(0), "embedding size (default: 32 for langid, 128 for lm)")
      ("hidden-size", po::value<int64_t>()->default_value(200), "lm: LSTM hidden size")
      ("bptt", po::value<int64_t>()->default_value(35), "lm: BPTT window length")
      ("max-vocab", po::value<int64_t>()->default_value(8000), "lm: vocabulary size cap (specials included)");
}

int run_text_task(const std::string& task, const po::variables_map& vm) {
  if (vm.count("backend")) set_default_device(Device(vm["backend"].as<std::string>()));
  if (task == "langid") return run_langid(vm);
  if (task == "lm") return run_lm(vm);
  throw UsageError("unknown task '" + task + "' (expected image, langid or lm)");
}

}  // namespace kiln::cli
