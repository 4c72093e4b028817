#include "data_files.hpp"

#include <kiln/error.hpp>
#include <kiln/vision/mnist.hpp>

#include <cstdlib>
#include <filesystem>

namespace kiln::vision {

std::vector<std::string> default_data_dirs(const std::string& folder) {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("KILN_DATA_DIR"); env && *env) dirs.push_back(std::string(env) + "/" + folder);
  dirs.push_back("/usr/share/datasets/" + folder);
  if (const char* home = std::getenv("HOME"); home && *home)
    dirs.push_back(std::string(home) + "/.local/share/kiln/datasets/" + folder);
  return dirs;
}

namespace detail {

std::string find_file(const std::vector<std::string>& dirs, const std::string& name, bool allow_gz) {
  std::error_code ec;
  for (const auto& dir : dirs) {
    std::string path = dir + "/" + name;
    if (std::filesystem::is_regular_file(path, ec)) return path;
    if (allow_gz && std::filesystem::is_regular_file(path + ".gz", ec)) return path + ".gz";
  }
  return "";
}

void throw_not_found(const std::string& what, const std::string& name, const std::vector<std::string>& dirs,
                     const std::string& provider, bool allow_gz) {
  std::string places;
  for (size_t i = 0; i < dirs.size(); ++i) places += (i ? ", " : "") + dirs[i];
  throw DataError(kiln::detail::concat(what, " not found: looked for ", name, allow_gz ? "[.gz]" : "", " in ", places,
                                       ". ", provider));
}

std::vector<std::string> candidate_dirs(const std::string& root, const std::string& folder,
                                        const std::vector<std::string>& alternatives) {
  if (root.empty()) return default_data_dirs(folder);
  std::vector<std::string> dirs{root, root + "/" + folder};
  for (const auto& alt : alternatives) {
    dirs.push_back(root + "/" + alt);
    dirs.push_back(root + "/" + alt + "/raw");
  }
  return dirs;
}

}  // namespace detail
}  // namespace kiln::vision
