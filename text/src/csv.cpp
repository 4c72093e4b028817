// RFC 4180 CSV, with the line of each record kept for error messages.
#include <kiln/error.hpp>
#include <kiln/text/datasets.hpp>

#include <charconv>

namespace kiln::text {

std::vector<std::vector<std::string>> parse_csv(std::string_view s, const std::string& source,
                                                const CsvOptions& options) {
  std::vector<std::vector<std::string>> rows;
  const char delim = options.delimiter;
  const size_t n = s.size();
  size_t i = 0;
  int64_t line = 1;
  int64_t expected = options.num_fields;
  bool skipped_header = !options.header;
  while (i < n) {
    // skip empty lines
    if (s[i] == '\n') { ++i; ++line; continue; }
    if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') { i += 2; ++line; continue; }
    const int64_t record_line = line;
    std::vector<std::string> fields;
    std::string field;
    bool end_of_record = false;
    while (!end_of_record) {
      field.clear();
      if (i < n && s[i] == '"') {
        ++i;
        const int64_t quote_line = line;
        for (;;) {
          KILN_CHECK(i < n, DataError, source, ":", quote_line, ": quoted field is not closed before the end of the file");
          char c = s[i];
          if (c == '"') {
            if (i + 1 < n && s[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        // after a closing quote: delimiter, line end or end of file
        if (i < n && s[i] != delim && s[i] != '\n' && !(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
          throw DataError(detail::concat(source, ":", line, ": unexpected character '", s[i],
                                         "' after a closing quote (a quote inside a field must be doubled)"));
      } else {
        while (i < n && s[i] != delim && s[i] != '\n' && !(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')) field += s[i++];
      }
      fields.push_back(field);
      if (i >= n) {
        end_of_record = true;
      } else if (s[i] == delim) {
        ++i;
      } else {
        i += s[i] == '\r' ? 2 : 1;
        ++line;
        end_of_record = true;
      }
    }
    if (!skipped_header) {
      skipped_header = true;
      if (expected < 0) expected = static_cast<int64_t>(fields.size());
      continue;
    }
    if (expected < 0) expected = static_cast<int64_t>(fields.size());
    KILN_CHECK(static_cast<int64_t>(fields.size()) == expected, DataError, source, ":", record_line, ": expected ",
               expected, " fields, found ", fields.size());
    rows.push_back(std::move(fields));
  }
  return rows;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path, const CsvOptions& options) {
  return parse_csv(read_text_file(path, options.invalid_utf8), path, options);
}

TextRecords read_csv_classification(const std::string& path, const CsvClassificationOptions& o) {
  const std::string content = read_text_file(path, o.invalid_utf8);
  // parse once to learn each record's line for label errors
  CsvOptions csv{.num_fields = o.num_fields, .header = o.header, .invalid_utf8 = o.invalid_utf8};
  auto rows = parse_csv(content, path, csv);
  KILN_CHECK(!rows.empty(), DataError, path, ": no records");
  auto column_ok = [&](int64_t c) { return c >= 0 && c < static_cast<int64_t>(rows[0].size()); };
  KILN_CHECK(column_ok(o.label_column), ValueError, path, ": label column ", o.label_column, " outside the ",
             rows[0].size(), " fields");
  for (int64_t c : o.text_columns)
    KILN_CHECK(column_ok(c), ValueError, path, ": text column ", c, " outside the ", rows[0].size(), " fields");
  TextRecords r;
  r.classes = o.classes;
  int64_t max_label = -1;
  for (size_t k = 0; k < rows.size(); ++k) {
    const std::string& lab = rows[k][static_cast<size_t>(o.label_column)];
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(lab.data(), lab.data() + lab.size(), value);
    KILN_CHECK(ec == std::errc() && ptr == lab.data() + lab.size(), DataError, path, ": record ", k + 1,
               ": label '", lab, "' is not an integer");
    int64_t label = value - o.label_base;
    KILN_CHECK(label >= 0 && (o.classes.empty() || label < static_cast<int64_t>(o.classes.size())), DataError, path,
               ": record ", k + 1, ": label ", value, " outside [", o.label_base, ", ",
               o.label_base + (o.classes.empty() ? 0 : static_cast<int64_t>(o.classes.size())), ")");
    max_label = std::max(max_label, label);
    std::string text;
    for (size_t c = 0; c < o.text_columns.size(); ++c) {
      if (c) text += o.joiner;
      text += rows[k][static_cast<size_t>(o.text_columns[c])];
    }
    r.texts.push_back(std::move(text));
    r.labels.push_back(label);
  }
  if (r.classes.empty())
    for (int64_t c = 0; c <= max_label; ++c) r.classes.push_back(std::to_string(c + o.label_base));
  return r;
}

}  // namespace kiln::text
