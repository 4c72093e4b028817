#include <kiln/vision/idx.hpp>

#include <kiln/error.hpp>

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

namespace kiln::vision {

std::vector<uint8_t> read_maybe_gzip(const std::string& path, bool* compressed) {
  // gzread passes files without the gzip magic through unchanged, so one path reads both.
  gzFile file = gzopen(path.c_str(), "rb");
  KILN_CHECK(file != nullptr, DataError, path, ": cannot open: ", errno ? std::strerror(errno) : "out of memory");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> closer(file, gzclose);
  gzbuffer(file, 1 << 17);
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      throw DataError(detail::concat(path, ": byte ", out.size(), " of the decompressed data: corrupt gzip stream (",
                                     message ? message : "unknown zlib error", ")"));
    }
    if (n == 0) {
      // gzread returns 0 both at a clean end and at a gzip stream cut short; gzerror tells them apart.
      int code = 0;
      const char* message = gzerror(file, &code);
      if (code != Z_OK && code != Z_STREAM_END)
        throw DataError(detail::concat(path, ": byte ", out.size(), " of the decompressed data: ",
                                       message ? message : "zlib error", " (truncated or corrupt gzip file)"));
      break;
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  if (compressed) *compressed = !gzdirect(file);
  return out;
}

IdxArray read_idx(const std::string& path, int expected_rank) {
  bool compressed = false;
  std::vector<uint8_t> bytes = read_maybe_gzip(path, &compressed);
  auto where = [&](size_t offset) {
    return detail::concat(path, ": byte ", offset, compressed ? " of the decompressed data: " : ": ");
  };
  KILN_CHECK(bytes.size() >= 4, DataError, where(bytes.size()), "truncated IDX header (the file has ", bytes.size(),
             " bytes, the header needs at least 4)");
  KILN_CHECK(bytes[0] == 0 && bytes[1] == 0, DataError, where(0),
             "not an IDX file: expected the magic 00 00 <type> <rank>, found bytes ", int(bytes[0]), " ",
             int(bytes[1]));
  KILN_CHECK(bytes[2] == 0x08, DataError, where(2), "IDX element type 0x", std::hex, int(bytes[2]), std::dec,
             " is not supported (only 0x08, unsigned byte)");
  int rank = bytes[3];
  KILN_CHECK(rank >= 1, DataError, where(3), "IDX rank 0");
  KILN_CHECK(expected_rank < 0 || rank == expected_rank, DataError, where(3), "expected an IDX file of rank ",
             expected_rank, ", found rank ", rank);
  size_t header = 4 + 4 * static_cast<size_t>(rank);
  KILN_CHECK(bytes.size() >= header, DataError, where(bytes.size()), "truncated IDX header: ", rank,
             " extents need ", header, " bytes, the file has ", bytes.size());
  IdxArray out;
  size_t count = 1;
  for (int d = 0; d < rank; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    uint32_t extent = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
    out.dims.push_back(extent);
    count *= extent;
    KILN_CHECK(count <= (size_t{1} << 40), DataError, where(4 + 4 * d), "IDX extents too large (", extent, ")");
  }
  size_t available = bytes.size() - header;
  KILN_CHECK(available >= count, DataError, where(bytes.size()), "truncated IDX data: the header promises ", count,
             " bytes of data from byte ", header, " but the file ends after ", available);
  KILN_CHECK(available == count, DataError, where(header + count), available - count,
             " unexpected bytes after the end of the IDX data (the header promises ", count, ")");
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  out.data = std::move(bytes);
  return out;
}

}  // namespace kiln::vision
