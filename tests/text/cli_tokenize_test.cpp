// kiln tokenize as a user runs it: stdin in, one token per line out, exit codes.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {
struct Result {
  int status;
  std::string output;  // stdout and stderr
};
Result run_tokenize(const std::string& input, const std::string& args) {
  fs::path in = fs::temp_directory_path() / ("kiln_tokenize_in_" + std::to_string(::getpid()));
  std::ofstream(in, std::ios::binary) << input;
  std::string cmd = std::string(KILN_CLI_PATH) + " tokenize " + args + " < " + in.string() + " 2>&1";
  Result r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  fs::remove(in);
  return r;
}
}  // namespace

TEST(KilnTokenize, OneTokenPerLine) {
  Result r = run_tokenize("Hello, World!\n", "");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "hello\n,\nworld\n!\n");
  r = run_tokenize("我喜欢吃苹果", "--tokenizer word --offsets");
  EXPECT_EQ(r.output, "0\t3\t我\n3\t9\t喜欢\n9\t12\t吃\n12\t18\t苹果\n");
  r = run_tokenize("Ａb\tc", "--tokenizer char --normalize nfkc,lower");
  EXPECT_EQ(r.output, "a\nb\n\\t\nc\n");  // the tab token is written escaped
}

TEST(KilnTokenize, InvalidUtf8AndBadOptions) {
  Result r = run_tokenize("ok\xFFno", "--tokenizer whitespace");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "ok\xEF\xBF\xBDno\n");
  r = run_tokenize("ok\xFFno", "--invalid-utf8 refuse");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("stdin: invalid UTF-8 at byte offset 2"), std::string::npos) << r.output;
  r = run_tokenize("x", "--tokenizer nope");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("unknown tokenizer 'nope'"), std::string::npos) << r.output;
  r = run_tokenize("x", "--normalize nfz");
  EXPECT_EQ(r.status, 2);
}
