// The .kiln container: header codec, checksums and the checked parse (docs/file-format.md).
//
// Note [Reading hostile files]: every number read from a file is checked against the file's own
// size before it is used as an offset, a length or an allocation size, in this order: header
// fields, section bounds, checksums, the JSON (depth-limited), then each tensor index entry
// (dtype, shape, length = numel * element size, alignment, bounds) and finally overlaps between
// entries. Anything wrong raises DataError naming the file, a byte offset and the reason. The
// JSON is parsed into std::map-backed objects so that a file with a million keys costs n log n,
// not n^2 (ordered_json's lookups are linear).
#include "format.hpp"

#include <kiln/error.hpp>

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdio>
#include <cstring>
#include <limits>

namespace kiln::detail::kiln_file {

namespace {
void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}
std::string range(uint64_t begin, uint64_t length) {
  // [begin, begin + length) without overflowing on hostile values
  std::string end = length <= std::numeric_limits<uint64_t>::max() - begin ? std::to_string(begin + length)
                                                                         : std::to_string(begin) + "+" + std::to_string(length);
  return "[" + std::to_string(begin) + ", " + end + ")";
}

const char* kCanonicalDTypes[] = {"float32", "float64", "int32", "int64", "uint8", "bool"};
}  // namespace

void encode_header(const Header& h, unsigned char out[kHeaderSize]) {
  std::memcpy(out, kMagic, sizeof kMagic);
  put_u32(out + 8, h.format_version);
  put_u32(out + 12, h.flags);
  put_u64(out + 16, h.json_offset);
  put_u64(out + 24, h.json_length);
  put_u64(out + 32, h.data_offset);
  put_u64(out + 40, h.data_length);
  put_u32(out + 48, h.json_crc32);
  put_u32(out + 52, h.data_crc32);
  put_u32(out + 56, h.reserved);
  put_u32(out + 60, crc32_update(0, out, 60));
}

Header decode_header(const unsigned char in[kHeaderSize]) {
  Header h;
  h.format_version = get_u32(in + 8);
  h.flags = get_u32(in + 12);
  h.json_offset = get_u64(in + 16);
  h.json_length = get_u64(in + 24);
  h.data_offset = get_u64(in + 32);
  h.data_length = get_u64(in + 40);
  h.json_crc32 = get_u32(in + 48);
  h.data_crc32 = get_u32(in + 52);
  h.reserved = get_u32(in + 56);
  h.header_crc32 = get_u32(in + 60);
  return h;
}

uint32_t crc32_update(uint32_t crc, const void* data, size_t bytes) {
  auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (bytes > 0) {  // zlib takes uInt lengths
    uInt chunk = static_cast<uInt>(std::min<size_t>(bytes, UINT_MAX / 2));
    c = ::crc32(c, p, chunk);
    p += chunk;
    bytes -= chunk;
  }
  return static_cast<uint32_t>(c);
}

void fail(const std::string& file, uint64_t offset, const std::string& reason) {
  throw DataError(file + ": byte " + std::to_string(offset) + ": " + reason);
}

uint64_t ParsedFile::locate(std::string_view key, uint64_t from) const {
  std::string_view text(reinterpret_cast<const char*>(bytes + header.json_offset), header.json_length);
  std::string quoted;
  try {
    quoted = nlohmann::json(std::string(key)).dump();
  } catch (const nlohmann::json::exception&) {
    return header.json_offset;
  }
  size_t start = from > header.json_offset ? static_cast<size_t>(from - header.json_offset) : 0;
  size_t pos = text.find(quoted, std::min(start, text.size()));
  return header.json_offset + (pos == std::string_view::npos ? 0 : pos);
}

namespace {
TensorEntry parse_entry(const ParsedFile& pf, const std::string& name, const nlohmann::json& e, uint64_t at) {
  const std::string& f = pf.file;
  const std::string what = "tensor '" + name + "': ";
  TensorEntry t;
  t.name = name;
  t.index_at = at;
  if (name.empty()) fail(f, at, "tensor index has an empty name");
  if (!e.is_object()) fail(f, at, what + "index entry is not an object");
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) fail(f, at, what + "missing or non-string \"dtype\"");
  const auto& dname = dt->get_ref<const std::string&>();
  auto known = std::find(std::begin(kCanonicalDTypes), std::end(kCanonicalDTypes), dname);
  if (known == std::end(kCanonicalDTypes))
    fail(f, at, what + "unknown dtype \"" + dname + "\" (expected float32, float64, int32, int64, uint8 or bool)");
  t.dtype = dtype_from_name(dname);
  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) fail(f, at, what + "missing or non-array \"shape\"");
  if (sh->size() > static_cast<size_t>(Shape::kMaxDims))
    fail(f, at, what + "shape has " + std::to_string(sh->size()) + " dimensions (at most " +
                    std::to_string(Shape::kMaxDims) + ")");
  uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned()) fail(f, at, what + "shape extents must be non-negative integers, got " + d.dump());
    uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(f, at, what + "shape extent " + std::to_string(v) + " is too large");
    overflow = overflow || (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v);
    numel = overflow ? numel : numel * v;
    t.shape.push_back(static_cast<int64_t>(v));
  }
  uint64_t elem = dtype_size(t.dtype);
  if (overflow || numel > std::numeric_limits<uint64_t>::max() / elem)
    fail(f, at, what + "shape " + t.shape.str() + " is too large");
  for (const char* key : {"offset", "length"}) {
    auto it = e.find(key);
    if (it == e.end() || !it->is_number_unsigned())
      fail(f, at, what + "missing \"" + key + "\" or not a non-negative integer");
  }
  t.offset = e.at("offset").get<uint64_t>();
  t.length = e.at("length").get<uint64_t>();
  uint64_t expected = numel * elem;
  if (t.length != expected)
    fail(f, at, what + std::string(dtype_name(t.dtype)) + " " + t.shape.str() + " needs " + std::to_string(expected) +
                    " bytes but its length is " + std::to_string(t.length));
  if (t.offset % kAlignment != 0)
    fail(f, at, what + "offset " + std::to_string(t.offset) + " is not a multiple of 64");
  const uint64_t data_length = pf.header.data_length;
  if (t.offset > data_length || t.length > data_length - t.offset)
    fail(f, at, what + "bytes " + range(t.offset, t.length) + " of the data section extend past its end (" +
                    std::to_string(data_length) + " bytes)");
  return t;
}

std::vector<TensorEntry> parse_index(const ParsedFile& pf, const nlohmann::json& index, uint64_t from) {
  std::vector<TensorEntry> out;
  if (!index.is_object()) fail(pf.file, from, "\"tensors\" is not an object");
  out.reserve(index.size());
  for (auto it = index.begin(); it != index.end(); ++it)
    out.push_back(parse_entry(pf, it.key(), it.value(), pf.locate(it.key(), from)));
  return out;
}
}  // namespace

ParsedFile parse(const unsigned char* bytes, size_t size, const std::string& file, const ReadOptions& options) {
  ParsedFile pf;
  pf.file = file;
  pf.bytes = bytes;
  pf.size = size;
  const std::string& f = file;
  if (size < kHeaderSize)
    fail(f, size, "the file is " + std::to_string(size) + " bytes, shorter than the 64-byte .kiln header (truncated?)");
  if (std::memcmp(bytes, kMagic, sizeof kMagic) != 0) {
    std::string got;
    char buf[4];
    for (size_t i = 0; i < sizeof kMagic; ++i) {
      std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
      got += (i ? " " : "") + std::string(buf);
    }
    bool mangled = std::memcmp(bytes, kMagic, 4) == 0;
    fail(f, 0, "bad magic (expected 4b 49 4c 4e 00 0d 0a 1a, got " + got + "): " +
                   (mangled ? "the file was altered in transfer (text mode? line endings?)" : "not a .kiln file"));
  }
  Header& h = pf.header;
  h = decode_header(bytes);
  if (h.format_version == 0) fail(f, 8, "format version 0 is invalid");
  if (h.format_version > kKilnFormatVersion)
    fail(f, 8, "format version " + std::to_string(h.format_version) + " is newer than this Kiln reads (up to " +
                   std::to_string(kKilnFormatVersion) + "); upgrade Kiln");
  if (options.verify_checksums) {
    uint32_t computed = crc32_update(0, bytes, 60);
    if (computed != h.header_crc32)
      fail(f, 60, "header checksum mismatch (stored " + hex32(h.header_crc32) + ", computed " + hex32(computed) +
                      "): the header is corrupted");
  }
  if ((h.flags & ~kKnownFlags) != 0) fail(f, 12, "unknown flags " + hex32(h.flags & ~kKnownFlags) + " (a newer writer?)");
  if (h.reserved != 0) fail(f, 56, "reserved header field is " + hex32(h.reserved) + " (expected 0)");
  const std::string file_size = std::to_string(size) + " bytes";
  if (h.json_offset < kHeaderSize)
    fail(f, 16, "JSON section offset " + std::to_string(h.json_offset) + " overlaps the 64-byte header");
  if (h.json_offset > size)
    fail(f, 16, "JSON section offset " + std::to_string(h.json_offset) + " is past the end of the file (" + file_size + ")");
  if (h.json_length == 0) fail(f, 24, "the JSON section is empty");
  if (h.json_length > size - h.json_offset)
    fail(f, 24, "JSON section " + range(h.json_offset, h.json_length) + " extends past the end of the file (" +
                    file_size + "; truncated?)");
  const uint64_t json_end = h.json_offset + h.json_length;
  if (h.data_offset < json_end)
    fail(f, 32, "data section offset " + std::to_string(h.data_offset) + " overlaps the JSON section " +
                    range(h.json_offset, h.json_length));
  if (h.data_offset % kAlignment != 0)
    fail(f, 32, "data section offset " + std::to_string(h.data_offset) + " is not a multiple of 64");
  if (h.data_offset > size)
    fail(f, 32, "data section offset " + std::to_string(h.data_offset) + " is past the end of the file (" + file_size + ")");
  if (h.data_length > size - h.data_offset)
    fail(f, 40, "data section " + range(h.data_offset, h.data_length) + " extends past the end of the file (" +
                    file_size + "; truncated?)");
  if (h.data_offset + h.data_length != size)
    fail(f, h.data_offset + h.data_length,
         std::to_string(size - h.data_offset - h.data_length) + " unexpected bytes after the data section");
  if (options.verify_checksums) {
    uint32_t computed = crc32_update(0, bytes + h.json_offset, h.json_length);
    if (computed != h.json_crc32)
      fail(f, h.json_offset, "JSON section checksum mismatch (stored " + hex32(h.json_crc32) + ", computed " +
                                 hex32(computed) + "): the file is corrupted");
    if (options.read_data) {
      computed = crc32_update(0, bytes + h.data_offset, h.data_length);
      if (computed != h.data_crc32)
        fail(f, h.data_offset, "data section checksum mismatch (stored " + hex32(h.data_crc32) + ", computed " +
                                   hex32(computed) + "): the file is corrupted");
    }
  }

  const char* text = reinterpret_cast<const char*>(bytes + h.json_offset);
  try {
    pf.json = nlohmann::json::parse(text, text + h.json_length);
  } catch (const nlohmann::json::parse_error& e) {
    uint64_t at = e.byte > 0 ? std::min<uint64_t>(e.byte - 1, h.json_length) : 0;
    fail(f, h.json_offset + at, std::string("bad JSON: ") + e.what());
  } catch (const nlohmann::json::exception& e) {
    fail(f, h.json_offset, std::string("bad JSON: ") + e.what());
  }
  if (json_depth(pf.json) > kMaxJsonDepth)
    fail(f, h.json_offset, "the JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  const auto& j = pf.json;
  if (!j.is_object()) fail(f, h.json_offset, "the JSON section is not an object");
  auto arch = j.find("architecture");
  if (arch == j.end() || !arch->is_object())
    fail(f, h.json_offset, "missing \"architecture\" object (the model's layer tree)");
  auto tensors = j.find("tensors");
  if (tensors == j.end()) fail(f, h.json_offset, "missing \"tensors\" object (the tensor index)");
  uint64_t tensors_at = pf.locate("tensors");
  pf.model_tensors = parse_index(pf, *tensors, tensors_at);
  if (auto opt = j.find("optimizer"); opt != j.end()) {
    uint64_t at = pf.locate("optimizer");
    if (!opt->is_object()) fail(f, at, "\"optimizer\" is not an object");
    auto name = opt->find("name");
    if (name == opt->end() || !name->is_string()) fail(f, at, "\"optimizer\" has no string \"name\"");
    auto state = opt->find("tensors");
    if (state == opt->end()) fail(f, at, "\"optimizer\" has no \"tensors\" index");
    pf.optimizer_tensors = parse_index(pf, *state, pf.locate("tensors", at));
  }
  if (auto e = j.find("epoch"); e != j.end() && !e->is_number_integer())
    fail(f, pf.locate("epoch"), "\"epoch\" is not an integer");
  if (auto r = j.find("rng"); r != j.end()) {
    uint64_t at = pf.locate("rng");
    if (!r->is_object()) fail(f, at, "\"rng\" is not an object");
    for (const char* key : {"seed", "offset"}) {
      auto it = r->find(key);
      if (it == r->end() || !it->is_number_unsigned())
        fail(f, at, std::string("\"rng\" needs a non-negative integer \"") + key + "\"");
    }
  }
  if (auto t = j.find("training"); t != j.end() && !t->is_boolean())
    fail(f, pf.locate("training"), "\"training\" is not a boolean");

  // Overlaps, over the model's and the optimizer's tensors together (empty tensors take no bytes).
  std::vector<const TensorEntry*> all;
  for (const auto* list : {&pf.model_tensors, &pf.optimizer_tensors})
    for (const auto& t : *list)
      if (t.length > 0) all.push_back(&t);
  std::sort(all.begin(), all.end(), [](const TensorEntry* a, const TensorEntry* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < all.size(); ++i) {
    const TensorEntry& a = *all[i - 1];
    const TensorEntry& b = *all[i];
    if (a.offset + a.length > b.offset)
      fail(f, h.data_offset + b.offset, "tensors '" + a.name + "' (data bytes " + range(a.offset, a.length) + ") and '" +
                                            b.name + "' (data bytes " + range(b.offset, b.length) + ") overlap");
  }
  if (options.read_data) {
    // A bool byte other than 0 or 1 is undefined behaviour once read as bool.
    for (const TensorEntry* t : all) {
      if (t->dtype != DType::Bool) continue;
      const unsigned char* p = pf.data_at(t->offset);
      for (uint64_t i = 0; i < t->length; ++i)
        if (p[i] > 1)
          fail(f, h.data_offset + t->offset + i, "tensor '" + t->name + "' (bool) holds the byte " +
                                                     std::to_string(p[i]) + " (expected 0 or 1)");
    }
  }
  return pf;
}

nlohmann::ordered_json to_ordered(const nlohmann::json& j) {
  using Pairs = std::vector<std::pair<const std::string, nlohmann::ordered_json>>;
  if (j.is_object()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    // ordered_map's own insert searches linearly for duplicates; std::map's keys are unique already.
    auto& pairs = static_cast<Pairs&>(out.get_ref<nlohmann::ordered_json::object_t&>());
    pairs.reserve(j.size());
    for (auto it = j.begin(); it != j.end(); ++it) pairs.emplace_back(it.key(), to_ordered(it.value()));
    return out;
  }
  if (j.is_array()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& v : j) out.push_back(to_ordered(v));
    return out;
  }
  switch (j.type()) {
    case nlohmann::json::value_t::string: return j.get_ref<const std::string&>();
    case nlohmann::json::value_t::boolean: return j.get<bool>();
    case nlohmann::json::value_t::number_integer: return j.get<int64_t>();
    case nlohmann::json::value_t::number_unsigned: return j.get<uint64_t>();
    case nlohmann::json::value_t::number_float: return j.get<double>();
    default: return nullptr;
  }
}

}  // namespace kiln::detail::kiln_file
