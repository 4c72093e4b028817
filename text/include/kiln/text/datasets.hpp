// Text data sets on disk: CSV classification (AG_NEWS), folder-per-class (IMDB's aclImdb), line
// corpora (WikiText) and fortune files (Debian's fortunes* packages), read into memory as records.
// encode() (encode.hpp) turns records into a data::Dataset of token-index tensors.
#pragma once

#include <kiln/text/utf8.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::text {

// Texts with optional labels: labels[i] indexes classes (labels is empty for unlabelled corpora).
struct TextRecords {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;
  std::vector<std::string> classes;
  int64_t size() const { return static_cast<int64_t>(texts.size()); }
};

// ---------------------------------------------------------------- CSV (RFC 4180)
struct CsvOptions {
  char delimiter = ',';
  int64_t num_fields = -1;   // every record must have this many fields (-1: as many as the first)
  bool header = false;       // skip the first record
  InvalidUtf8 invalid_utf8 = InvalidUtf8::Replace;
};
// Records of fields. Quoted fields may hold delimiters, doubled quotes ("") and line breaks; CRLF
// and LF both end records; empty lines are skipped. DataError "<source>:<line>: ..." for a record
// with the wrong number of fields, text after a closing quote, or a quote left open at the end
// (line = where the record starts, counting from 1).
std::vector<std::vector<std::string>> parse_csv(std::string_view content, const std::string& source,
                                                const CsvOptions& options = {});
std::vector<std::vector<std::string>> read_csv(const std::string& path, const CsvOptions& options = {});

struct CsvClassificationOptions {
  int64_t label_column = 0;
  std::vector<int64_t> text_columns = {1, 2};  // joined with `joiner` (AG_NEWS: title, description)
  std::string joiner = " ";
  int64_t num_fields = 3;
  int64_t label_base = 1;    // AG_NEWS labels are 1..4: label = value - label_base
  std::vector<std::string> classes;  // names for labels 0..; empty: "0", "1", ...
  bool header = false;
  InvalidUtf8 invalid_utf8 = InvalidUtf8::Replace;
};
// AG_NEWS layout: "3","Title","Description". DataError naming file and line for a label that is
// not an integer, or outside [0, classes.size()) once label_base is subtracted (when classes given).
TextRecords read_csv_classification(const std::string& path, const CsvClassificationOptions& options = {});

// ---------------------------------------------------------------- folder per class
struct TextFolderOptions {
  std::vector<std::string> extensions = {".txt"};  // files kept (case-sensitive suffix); empty: all
  std::vector<std::string> classes;  // subfolders to read, in label order; empty: all, sorted by name
  InvalidUtf8 invalid_utf8 = InvalidUtf8::Replace;
};
// root/<class>/<file>: one record per file, files sorted by name within a class. DataError when
// root is not a folder, has no class folders, or a class folder holds no matching file.
TextRecords read_text_folder(const std::string& root, const TextFolderOptions& options = {});

// ---------------------------------------------------------------- line corpora and fortunes
// The lines of a file without their line ends (LF or CRLF); with skip_empty, blank lines are left out.
std::vector<std::string> read_lines(const std::string& path, bool skip_empty = false,
                                    InvalidUtf8 invalid_utf8 = InvalidUtf8::Replace);
// Records of a fortune file: text between lines holding only "%" (strfile's format). Each record
// loses its final line break; empty records are dropped.
std::vector<std::string> parse_fortunes(std::string_view content);
std::vector<std::string> read_fortunes(const std::string& path, InvalidUtf8 invalid_utf8 = InvalidUtf8::Replace);
// The fortune files in a folder (not recursing, symbolic links and strfile's .dat/.u8 left out),
// sorted by name.
std::vector<std::string> list_fortune_files(const std::string& folder);

}  // namespace kiln::text
