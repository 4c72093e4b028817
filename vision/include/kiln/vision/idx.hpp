// Reading IDX files (the MNIST family's format), gzip-compressed or raw.
//
// An IDX file is: two zero bytes, a type byte (0x08 = unsigned byte, the only type read here), a
// rank byte, `rank` big-endian uint32 extents, then the product of the extents in bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::vision {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major, the product of dims bytes
};

// Reads the whole file (decompressing when it starts with the gzip magic, whatever its name).
// expected_rank >= 0 also checks the rank. Throws DataError naming the file and byte offset (in the
// decompressed stream for .gz files) for a wrong magic, an unsupported type, a rank mismatch, a
// truncated file or bytes past the end of the data; DataError when the file cannot be opened.
IdxArray read_idx(const std::string& path, int expected_rank = -1);

// The whole content of a file, gunzipped when it starts with the gzip magic. DataError naming the
// file when it cannot be read or the gzip stream is corrupt. *compressed (if given) tells whether it was gzip.
std::vector<uint8_t> read_maybe_gzip(const std::string& path, bool* compressed = nullptr);

}  // namespace kiln::vision
