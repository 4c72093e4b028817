// Helpers for the .kiln tests: a temp folder, raw file access, and an independent little writer
// of the container (docs/file-format.md) so tests can craft valid and hostile files byte by byte.
#pragma once

#include <kiln/tensor.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kiln::test {

using Bytes = std::vector<unsigned char>;

// A fresh folder under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const;  // file names in it, sorted
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

Bytes read_bytes(const std::string& path);
void write_bytes(const std::string& path, const Bytes& bytes);

uint32_t get_u32(const Bytes& b, size_t at);
uint64_t get_u64(const Bytes& b, size_t at);
void put_u32(Bytes& b, size_t at, uint32_t v);
void put_u64(Bytes& b, size_t at, uint64_t v);
// Recomputes the header checksum (bytes 60..63) after a header field was edited.
void fix_header_crc(Bytes& b);

// The pieces of a well-formed file.
struct KilnParts {
  uint32_t version = 1;
  uint32_t flags = 0;
  nlohmann::ordered_json json;
  Bytes data;  // the data section
};
KilnParts split(const Bytes& file);
// Lays the parts out as the writer does (JSON at 64, data 64-aligned) with correct checksums.
Bytes assemble(const KilnParts& parts);
Bytes assemble_raw(uint32_t version, uint32_t flags, const std::string& json_text, const Bytes& data);
inline uint64_t json_offset() { return 64; }
uint64_t data_offset_of(const Bytes& file);

// Element-wise bit equality of two tensors (same dtype and shape).
bool bit_equal(const Tensor& a, const Tensor& b);

}  // namespace kiln::test
