// Small data files written into a per-test temp dir.
#pragma once

#include <zlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace kiln::vision::testing {

inline std::filesystem::path make_temp_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("kiln-vision-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_raw(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_gz(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

inline void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(v >> shift));
}

// An IDX ubyte file: header then data.
inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out{0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) put_u32(out, d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// n 28x28 images: image i has pixel k = (i * 50 + k) % 256; labels as given.
inline std::vector<uint8_t> images_data(uint32_t n) {
  std::vector<uint8_t> data;
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t k = 0; k < 28 * 28; ++k) data.push_back(static_cast<uint8_t>((i * 50 + k) % 256));
  return data;
}

// The four files of an MNIST-style set (train and t10k) in dir, raw or gzip.
inline void write_mnist(const std::filesystem::path& dir, const std::vector<uint8_t>& labels, bool gz,
                        const std::string& prefix = "") {
  auto n = static_cast<uint32_t>(labels.size());
  for (std::string split : {"train", "t10k"}) {
    auto images = idx_bytes({n, 28, 28}, images_data(n));
    auto label_file = idx_bytes({n}, labels);
    std::string suffix = gz ? ".gz" : "";
    auto write = gz ? write_gz : write_raw;
    write(dir / (prefix + split + "-images-idx3-ubyte" + suffix), images);
    write(dir / (prefix + split + "-labels-idx1-ubyte" + suffix), label_file);
  }
}

}  // namespace kiln::vision::testing
