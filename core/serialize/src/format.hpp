// Private: the .kiln container (docs/file-format.md): the fixed header, checksums, and the
// checked parse of a whole file held in memory. serialize.cpp writes, serialize_reader.cpp
// rebuilds models; the fuzz target (fuzz/kiln_load_fuzz.cpp) drives parse() directly.
#pragma once

#include <kiln/dtype.hpp>
#include <kiln/serialize.hpp>
#include <kiln/shape.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::detail::kiln_file {

inline constexpr unsigned char kMagic[8] = {'K', 'I', 'L', 'N', 0x00, '\r', '\n', 0x1a};
inline constexpr size_t kHeaderSize = 64;
inline constexpr uint64_t kAlignment = 64;
inline constexpr uint32_t kFlagCheckpoint = 1u;  // the file holds optimizer state, epoch and RNG
inline constexpr uint32_t kKnownFlags = kFlagCheckpoint;
// JSON nesting deeper than this is refused (every walk over the JSON is then bounded).
inline constexpr int kMaxJsonDepth = 128;

// The fixed header, all fields little-endian (docs/file-format.md, "Header").
struct Header {
  uint32_t format_version = kKilnFormatVersion;
  uint32_t flags = 0;
  uint64_t json_offset = 0, json_length = 0;
  uint64_t data_offset = 0, data_length = 0;
  uint32_t json_crc32 = 0, data_crc32 = 0;
  uint32_t reserved = 0;
  uint32_t header_crc32 = 0;
};

// Writes the 64 header bytes, computing header_crc32 over bytes [0, 60).
void encode_header(const Header& header, unsigned char out[kHeaderSize]);
Header decode_header(const unsigned char in[kHeaderSize]);
uint32_t crc32_update(uint32_t crc, const void* data, size_t bytes);
inline uint64_t align_up(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }
// Reverses the bytes of each element (tensor data on a big-endian host).
inline void swap_elements(unsigned char* p, size_t bytes, size_t element) {
  for (size_t i = 0; i + element <= bytes; i += element) std::reverse(p + i, p + i + element);
}

// Throws DataError "<file>: byte <offset>: <reason>".
[[noreturn]] void fail(const std::string& file, uint64_t offset, const std::string& reason);

struct TensorEntry {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t length = 0;
  uint64_t index_at = 0;  // byte offset of its JSON entry in the file, for messages
};

struct ReadOptions {
  bool verify_checksums = true;  // the fuzz target turns them off to reach the checks behind them
  bool read_data = true;         // false: header, JSON and index only (read_kiln_header)
};

// A checked view of a file in memory. Every offset and length in it has been validated: the
// tensors lie inside the data section, 64-byte aligned, without overlapping, and their lengths
// match their shapes and dtypes.
struct ParsedFile {
  std::string file;  // name used in messages
  const unsigned char* bytes = nullptr;
  size_t size = 0;
  Header header;
  nlohmann::json json;  // the JSON section (std::map objects: parsing cost n log n whatever the input)
  std::vector<TensorEntry> model_tensors;
  std::vector<TensorEntry> optimizer_tensors;

  // The byte offset of `key` (a JSON object key) in the JSON section, searched after `from`;
  // the start of the JSON section when not found. Best effort, for messages.
  uint64_t locate(std::string_view key, uint64_t from = 0) const;
  const unsigned char* data_at(uint64_t offset) const { return bytes + header.data_offset + offset; }
};

ParsedFile parse(const unsigned char* bytes, size_t size, const std::string& file, const ReadOptions& options = {});

// Rebuilds the architecture and loads the tensors (created on the default device).
nn::ModulePtr build_model(const ParsedFile& parsed);
Tensor read_tensor(const ParsedFile& parsed, const TensorEntry& entry);
// The model and, unless model_only, the optimizer state, epoch, RNG state and metadata.
Checkpoint read_checkpoint(const ParsedFile& parsed, bool model_only = false);
// parse + read_checkpoint, with any stray JSON exception turned into DataError (load's core).
Checkpoint load_from_memory(const unsigned char* bytes, size_t size, const std::string& file,
                            const ReadOptions& options = {}, bool model_only = false);

// Nesting depth of a JSON value, counting at most up to `limit`.
template <typename Json>
int json_depth(const Json& j, int limit = kMaxJsonDepth + 1) {
  if (limit <= 0) return 1;
  int deepest = 0;
  if (j.is_object() || j.is_array())
    for (const auto& v : j) {
      deepest = std::max(deepest, json_depth(v, limit - 1));
      if (deepest >= limit) break;
    }
  return deepest + 1;
}

// A json value as an ordered_json, in O(n) (keys in the order std::map gives them: sorted).
nlohmann::ordered_json to_ordered(const nlohmann::json& j);

}  // namespace kiln::detail::kiln_file
