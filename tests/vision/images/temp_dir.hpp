// A fresh temporary folder for one test, removed with its content at the end of the scope.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <kiln/tensor.hpp>
#include <string>
#include <vector>

namespace kiln::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("kiln-images-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A uint8 [3, h, w] image whose pixel (y, x) of channel c is (seed * 40 + c * 70 + y * 13 + x * 5) % 256.
inline Tensor pattern_image(int seed, int64_t h = 5, int64_t w = 6) {
  std::vector<uint8_t> v;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        v.push_back(static_cast<uint8_t>((seed * 40 + c * 70 + y * 13 + x * 5) % 256));
  return from_vector(v, {3, h, w});
}

}  // namespace kiln::test
