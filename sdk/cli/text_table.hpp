// Plain-text tables for the command line: columns padded to their widest cell.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace kiln::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Writes the header and the rows, each line starting with `indent`; the last column is not padded.
  void print(std::ostream& os, const std::string& indent = "  ") const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace kiln::cli
