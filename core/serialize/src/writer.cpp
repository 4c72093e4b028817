// Writing .kiln files: save() and save_checkpoint() (docs/file-format.md).
//
// Note [Atomic save]: the file is written to a hidden temporary file in the destination's folder
// (same file system, so rename is atomic), flushed with fsync, then renamed over `path`, and the
// folder is fsynced so the rename itself survives a crash. Any failure before the rename (an
// unregistered layer, a full disk, an exception while reading a tensor) removes the temporary
// file and leaves the previous file at `path` byte-identical. Tensors are streamed one at a time,
// so saving needs no second copy of the model in memory.
#include <kiln/nn/layers.hpp>  // register_builtin_layers
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>
#include <kiln/version.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <vector>

#include "dispatch/dispatch.hpp"
#include "format.hpp"

namespace kiln {


namespace {
using detail::kiln_file::align_up;
using ojson = nlohmann::ordered_json;

std::string errno_text(int err) { return std::strerror(err); }

// Note [Atomic save].
class AtomicWriter {
 public:
  explicit AtomicWriter(const std::string& path) : path_(path) {
    size_t slash = path.find_last_of('/');
    dir_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    KILN_CHECK(!base.empty(), DataError, path, ": cannot save: the path names a folder, not a file");
    static std::atomic<uint64_t> counter{0};
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      temp_ = (slash == std::string::npos ? "" : path.substr(0, slash + 1)) + "." + base + ".tmp-" +
              std::to_string(::getpid()) + "-" + std::to_string(counter++);
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) break;
    }
    KILN_CHECK(fd_ >= 0, DataError, path, ": cannot save: cannot create a temporary file in '", dir_,
               "': ", errno_text(errno));
  }
  ~AtomicWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const void* data, size_t bytes) {
    pwrite_all(position_, data, bytes);
    position_ += bytes;
  }
  void write_zeros(size_t bytes) {
    static const unsigned char zeros[64] = {};
    while (bytes > 0) {
      size_t n = std::min(bytes, sizeof zeros);
      write(zeros, n);
      bytes -= n;
    }
  }
  void pwrite_all(uint64_t offset, const void* data, size_t bytes) {
    auto* p = static_cast<const char*>(data);
    while (bytes > 0) {
      ssize_t n = ::pwrite(fd_, p, bytes, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      KILN_CHECK(n > 0, DataError, path_, ": byte ", offset, ": cannot save: writing '", temp_, "' failed: ",
                 n < 0 ? errno_text(errno) : std::string("no progress"));
      p += n;
      offset += static_cast<uint64_t>(n);
      bytes -= static_cast<size_t>(n);
    }
  }
  uint64_t position() const { return position_; }

  void commit() {
    KILN_CHECK(::fsync(fd_) == 0, DataError, path_, ": cannot save: fsync of '", temp_, "' failed: ", errno_text(errno));
    int fd = fd_;
    fd_ = -1;
    KILN_CHECK(::close(fd) == 0, DataError, path_, ": cannot save: closing '", temp_, "' failed: ", errno_text(errno));
    KILN_CHECK(::rename(temp_.c_str(), path_.c_str()) == 0, DataError, path_, ": cannot save: renaming '", temp_,
               "' into place failed: ", errno_text(errno));
    committed_ = true;
    // Make the rename durable; a folder that cannot be fsynced (some file systems) is not an error.
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  std::string path_, dir_, temp_;
  int fd_ = -1;
  uint64_t position_ = 0;
  bool committed_ = false;
};

std::string shown(const std::string& path) { return path.empty() ? "<root>" : path; }

ojson describe(const nn::Module& m, const std::string& path) {
  const std::string type = m.type_name();
  nn::register_builtin_layers();
  const nn::LayerRegistration* reg = nn::find_layer(type);
  KILN_CHECK(reg != nullptr, ValueError, "save: layer '", shown(path), "' (", type,
             ") is not registered; register it with KILN_REGISTER_LAYER to save its architecture, or save its "
             "state_dict");
  ojson config = m.config();
  if (config.is_null()) config = ojson::object();
  KILN_CHECK(config.is_object(), ValueError, "save: layer '", shown(path), "' (", type,
             "): config() must return a JSON object, got ", config.type_name());
  ojson node = {{"type", type}, {"version", reg->version}, {"provider", reg->provider}, {"config", std::move(config)}};
  ojson children = ojson::array();
  for (const auto& [name, child] : m.named_children()) {
    ojson c = ojson::object();
    c["name"] = name;
    ojson described = describe(*child, path.empty() ? name : path + "." + name);
    for (auto& [k, v] : described.items()) c[k] = std::move(v);
    children.push_back(std::move(c));
  }
  node["children"] = std::move(children);
  return node;
}

struct PendingTensor {
  Tensor tensor;
  uint64_t offset = 0, length = 0;
};

// Adds the tensors to the index and the write list, assigning 64-byte aligned offsets.
ojson index_tensors(const std::map<std::string, Tensor>& tensors, std::vector<PendingTensor>& pending,
                    uint64_t& cursor) {
  ojson index = ojson::object();
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) continue;
    PendingTensor p{t, cursor, static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype())};
    index[name] = {{"dtype", std::string(dtype_name(t.dtype()))},
                   {"shape", t.shape().vec()},
                   {"offset", p.offset},
                   {"length", p.length}};
    cursor = align_up(p.offset + p.length);
    pending.push_back(std::move(p));
  }
  return index;
}

void write_file(const std::string& path, const nn::Module& model, const OptimizerState* optimizer, bool checkpoint,
                int64_t epoch, const ojson& metadata) {
  namespace kf = detail::kiln_file;
  ojson doc = ojson::object();
  doc["format"] = "kiln";
  doc["kiln_version"] = KILN_VERSION_STRING;
  doc["architecture"] = describe(model, "");
  doc["training"] = model.is_training();
  std::vector<PendingTensor> pending;
  uint64_t cursor = 0;
  doc["tensors"] = index_tensors(model.state_dict(), pending, cursor);
  if (checkpoint) {
    if (optimizer != nullptr)
      doc["optimizer"] = {{"name", optimizer->name}, {"tensors", index_tensors(optimizer->tensors, pending, cursor)}};
    doc["epoch"] = epoch;
    doc["rng"] = {{"seed", default_generator().seed()}, {"offset", default_generator().offset()}};
  }
  if (!metadata.is_null()) doc["metadata"] = metadata;
  KILN_CHECK(kf::json_depth(doc) <= kf::kMaxJsonDepth, ValueError, "save: the model's description (layers and ",
             "configs) is nested deeper than ", kf::kMaxJsonDepth, " JSON levels, which load refuses");
  std::string text;
  try {
    text = doc.dump();
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(std::string("save: a layer config or the metadata cannot be written as JSON: ") + e.what());
  }

  kf::Header h;
  h.flags = checkpoint ? kf::kFlagCheckpoint : 0;
  h.json_offset = kf::kHeaderSize;
  h.json_length = text.size();
  h.data_offset = align_up(h.json_offset + h.json_length);
  h.data_length = cursor;
  h.json_crc32 = kf::crc32_update(0, text.data(), text.size());

  AtomicWriter out(path);
  unsigned char header[kf::kHeaderSize] = {};
  out.write(header, sizeof header);  // placeholder: the data checksum is known only at the end
  out.write(text.data(), text.size());
  out.write_zeros(h.data_offset - out.position());
  uint32_t crc = 0;
  std::vector<unsigned char> buf;
  static const unsigned char zeros[64] = {};
  for (const PendingTensor& p : pending) {
    KILN_ASSERT(out.position() == h.data_offset + p.offset, "tensor offsets out of step");
    Tensor src = p.tensor.contiguous();
    size_t element = dtype_size(src.dtype());
    buf.resize(p.length);
    detail::read_bytes(src, static_cast<size_t>(src.offset()) * element, buf.data(), buf.size());
    if constexpr (std::endian::native == std::endian::big) kf::swap_elements(buf.data(), buf.size(), element);
    crc = kf::crc32_update(crc, buf.data(), buf.size());
    out.write(buf.data(), buf.size());
    size_t pad = align_up(p.length) - p.length;
    crc = kf::crc32_update(crc, zeros, pad);
    out.write_zeros(pad);
  }
  KILN_ASSERT(out.position() == h.data_offset + h.data_length, "data section size out of step");
  h.data_crc32 = crc;
  kf::encode_header(h, header);
  out.pwrite_all(0, header, sizeof header);
  out.commit();
}
}  // namespace

void save(const nn::Module& model, const std::string& path) { write_file(path, model, nullptr, false, -1, nullptr); }

void save_checkpoint(const std::string& path, const nn::Module& model, const OptimizerState* optimizer,
                     int64_t epoch, const nlohmann::ordered_json& metadata) {
  write_file(path, model, optimizer, true, epoch, metadata);
}

}  // namespace kiln
