#include "serialize_test_util.hpp"

#include <zlib.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

namespace kiln::test {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("kiln_serialize_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}
std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

uint32_t get_u32(const Bytes& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | b.at(at + i);
  return v;
}
uint64_t get_u64(const Bytes& b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b.at(at + i);
  return v;
}
void put_u32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.at(at + i) = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(Bytes& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.at(at + i) = static_cast<unsigned char>(v >> (8 * i));
}
static uint32_t crc(const unsigned char* p, size_t n) { return static_cast<uint32_t>(::crc32(0, p, static_cast<uInt>(n))); }
void fix_header_crc(Bytes& b) { put_u32(b, 60, crc(b.data(), 60)); }

uint64_t data_offset_of(const Bytes& file) { return get_u64(file, 32); }

KilnParts split(const Bytes& file) {
  KilnParts p;
  p.version = get_u32(file, 8);
  p.flags = get_u32(file, 12);
  uint64_t jo = get_u64(file, 16), jl = get_u64(file, 24), dof = get_u64(file, 32), dl = get_u64(file, 40);
  p.json = nlohmann::ordered_json::parse(file.begin() + jo, file.begin() + jo + jl);
  p.data.assign(file.begin() + dof, file.begin() + dof + dl);
  return p;
}

Bytes assemble(const KilnParts& parts) { return assemble_raw(parts.version, parts.flags, parts.json.dump(), parts.data); }

Bytes assemble_raw(uint32_t version, uint32_t flags, const std::string& text, const Bytes& data) {
  KilnParts parts;
  parts.version = version;
  parts.flags = flags;
  parts.data = data;
  uint64_t data_offset = (64 + text.size() + 63) / 64 * 64;
  Bytes out(data_offset + parts.data.size(), 0);
  const unsigned char magic[8] = {'K', 'I', 'L', 'N', 0, '\r', '\n', 0x1a};
  std::memcpy(out.data(), magic, 8);
  put_u32(out, 8, parts.version);
  put_u32(out, 12, parts.flags);
  put_u64(out, 16, 64);
  put_u64(out, 24, text.size());
  put_u64(out, 32, data_offset);
  put_u64(out, 40, parts.data.size());
  put_u32(out, 48, crc(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
  put_u32(out, 52, crc(parts.data.data(), parts.data.size()));
  std::memcpy(out.data() + 64, text.data(), text.size());
  std::copy(parts.data.begin(), parts.data.end(), out.begin() + data_offset);
  fix_header_crc(out);
  return out;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.dtype() == DType::Float32) {
    auto x = a.to_vector<float>(), y = b.to_vector<float>();
    return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
  }
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
}

}  // namespace kiln::test
