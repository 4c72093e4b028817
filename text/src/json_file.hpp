// The versioned JSON files of text/ (Vocab, ByteBPE): written atomically, read with errors that
// name the file, the byte offset of a syntax error, the expected format and version.
#ifndef KILN_TEXT_SRC_JSON_FILE_HPP
#define KILN_TEXT_SRC_JSON_FILE_HPP

#include <kiln/error.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace kiln::text::json_file {

// Writes j to path through path.tmp and a rename, so a failed save leaves the old file intact
// (and removes the partial temporary).
inline void write_json_file(const std::string& path, const nlohmann::ordered_json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    KILN_CHECK(f.good(), DataError, tmp, ": cannot open for writing");
    f << j.dump(1) << "\n";
    if (!f.good()) {
      f.close();
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw DataError(kiln::detail::concat(tmp, ": write failed"));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  KILN_CHECK(!ec, DataError, path, ": cannot rename ", tmp, " into place: ", ec.message());
}

// Reads path as a JSON object with "format": format and "version": version; what names the kind
// of file in messages ("vocabulary file").
inline nlohmann::json read_json_file(const std::string& path, const char* what, const char* format, int version) {
  std::ifstream f(path, std::ios::binary);
  KILN_CHECK(f.good(), DataError, path, ": cannot open the ", what);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(kiln::detail::concat(path, ": not a ", what, " (JSON error at byte ", e.byte, ": ", e.what(), ")"));
  }
  KILN_CHECK(j.is_object() && j.value("format", "") == format, DataError, path, ": not a ", what,
             " (expected \"format\": \"", format, "\")");
  KILN_CHECK(j.value("version", 0) == version, DataError, path, ": unsupported ", what, " version ",
             j.value("version", 0), " (expected ", version, ")");
  return j;
}

}  // namespace kiln::text::json_file

#endif  // KILN_TEXT_SRC_JSON_FILE_HPP
