// Folder-per-class text, line corpora and fortune files.
#include <kiln/error.hpp>
#include <kiln/text/datasets.hpp>

#include <algorithm>
#include <filesystem>

namespace kiln::text {

namespace fs = std::filesystem;

TextRecords read_text_folder(const std::string& root, const TextFolderOptions& o) {
  std::error_code ec;
  KILN_CHECK(fs::is_directory(root, ec), DataError, root, ": not a folder");
  std::vector<std::string> classes = o.classes;
  if (classes.empty()) {
    for (const auto& e : fs::directory_iterator(root))
      if (e.is_directory()) classes.push_back(e.path().filename().string());
    std::sort(classes.begin(), classes.end());
  }
  KILN_CHECK(!classes.empty(), DataError, root, ": no class folders (expected ", root, "/<class>/<file>)");
  auto wanted = [&](const fs::path& p) {
    if (o.extensions.empty()) return true;
    std::string name = p.filename().string();
    for (const auto& ext : o.extensions)
      if (name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) return true;
    return false;
  };
  TextRecords r;
  r.classes = classes;
  for (size_t c = 0; c < classes.size(); ++c) {
    fs::path dir = fs::path(root) / classes[c];
    KILN_CHECK(fs::is_directory(dir, ec), DataError, dir.string(), ": class folder not found");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && wanted(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::string exts;
    for (const auto& e : o.extensions) exts += (exts.empty() ? "" : ", ") + e;
    KILN_CHECK(!files.empty(), DataError, dir.string(), ": class folder '", classes[c], "' holds no files",
               exts.empty() ? "" : " ending in " + exts);
    for (const auto& f : files) {
      r.texts.push_back(read_text_file(f.string(), o.invalid_utf8));
      r.labels.push_back(static_cast<int64_t>(c));
    }
  }
  return r;
}

std::vector<std::string> read_lines(const std::string& path, bool skip_empty, InvalidUtf8 invalid_utf8) {
  std::string content = read_text_file(path, invalid_utf8);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    size_t stop = end;
    if (stop > start && content[stop - 1] == '\r') --stop;
    std::string line = content.substr(start, stop - start);
    if (!skip_empty || line.find_first_not_of(" \t") != std::string::npos) lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> parse_fortunes(std::string_view s) {
  std::vector<std::string> records;
  std::string current;
  size_t start = 0;
  auto finish = [&]() {
    while (!current.empty() && (current.back() == '\n' || current.back() == '\r')) current.pop_back();
    if (current.find_first_not_of(" \t\r\n") != std::string::npos) records.push_back(current);
    current.clear();
  };
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    size_t next = end == std::string_view::npos ? s.size() : end + 1;
    std::string_view line = s.substr(start, (end == std::string_view::npos ? s.size() : end) - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "%") {
      finish();
    } else {
      current.append(line);
      current += '\n';
    }
    start = next;
  }
  finish();
  return records;
}

std::vector<std::string> read_fortunes(const std::string& path, InvalidUtf8 invalid_utf8) {
  return parse_fortunes(read_text_file(path, invalid_utf8));
}

std::vector<std::string> list_fortune_files(const std::string& folder) {
  std::error_code ec;
  KILN_CHECK(fs::is_directory(folder, ec), DataError, folder, ": not a folder");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.is_symlink() || !e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    auto ends = [&](const char* suf) {
      std::string_view sv(suf);
      return name.size() >= sv.size() && name.compare(name.size() - sv.size(), sv.size(), sv) == 0;
    };
    if (ends(".dat") || ends(".u8") || ends(".pre") || ends("-pre")) continue;
    files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace kiln::text
