// Reading .kiln files: rebuilding the architecture from the layer registry, loading tensors,
// checkpoints and the header summary (docs/file-format.md). The container checks are in
// serialize_format.cpp (Note [Reading hostile files]).
#include <kiln/nn/layers.hpp>  // register_builtin_layers
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <set>

#include "dispatch/dispatch.hpp"
#include "format.hpp"

namespace kiln {

namespace detail::kiln_file {

namespace {
using json = nlohmann::json;

// Deepest nesting of layers (each layer adds two JSON levels: its node and its children array).
constexpr int kMaxLayerDepth = kMaxJsonDepth / 2;
// Children per layer: Module attaches a child with a linear search of its siblings, so a hostile
// list of a million children would take minutes; no real model comes near this.
constexpr size_t kMaxChildren = 16384;

std::string shown(const std::string& path) { return path.empty() ? "<root>" : path; }

// Integers are what factories read from configs; a float too large for int64 would make that
// conversion undefined behaviour, so such values are refused up front.
bool config_numbers_ok(const json& j) {
  if (j.is_number_float()) return std::isfinite(j.get<double>()) && std::fabs(j.get<double>()) < 9.0e18;
  if (j.is_object() || j.is_array())
    for (const auto& v : j)
      if (!config_numbers_ok(v)) return false;
  return true;
}

class Builder {
 public:
  explicit Builder(const ParsedFile& pf) : pf_(pf), cursor_(pf.locate("architecture")) {}

  nn::ModulePtr build(const json& node, const std::string& path, int depth) {
    const uint64_t at = cursor_ = pf_.locate("type", cursor_ + 1);
    check_node(node, path, depth, at);
    const std::string& type = node.at("type").get_ref<const std::string&>();
    const uint64_t version = node.at("version").get<uint64_t>();
    const std::string provider = node.contains("provider") ? node.at("provider").get<std::string>() : "";
    nn::register_builtin_layers();
    const nn::LayerRegistration* reg = nn::find_layer(type);
    if (reg == nullptr) {
      std::string hint;
      if (provider == "kiln" || provider.empty())
        hint = "it is a built-in layer of the Kiln that wrote the file (" + writer_version() + "); upgrade Kiln";
      else
        hint = "load the layer plugin that provides it ('" + provider +
               "', e.g. in a folder of KILN_PLUGIN_PATH) before loading this file, or register the type "
               "with KILN_REGISTER_LAYER";
      fail(pf_.file, at, "layer '" + shown(path) + "' has type '" + type + "' (version " + std::to_string(version) +
                             "), which is not registered in this program: " + hint);
    }
    if (version > static_cast<uint64_t>(reg->version))
      fail(pf_.file, at, "layer '" + shown(path) + "' (" + type + ") was saved with version " +
                             std::to_string(version) + " of the layer, but the registered " + type + " is version " +
                             std::to_string(reg->version) + " (provider '" + reg->provider + "'); upgrade '" +
                             (provider.empty() ? reg->provider : provider) + "' to read it");
    static const json kEmpty = json::object();
    const json& config = node.contains("config") ? node.at("config") : kEmpty;
    if (!config_numbers_ok(config))
      fail(pf_.file, at, "layer '" + shown(path) + "' (" + type + "): config holds a number out of range");
    nn::ModulePtr module;
    try {
      module = reg->factory(to_ordered(config));
    } catch (const std::exception& e) {
      // json type errors, kiln::ValueError from a constructor, DataError from the allocation budget
      fail(pf_.file, at, "layer '" + shown(path) + "' (" + type + ") cannot be built from its config: " + e.what());
    }
    if (module == nullptr) fail(pf_.file, at, "layer '" + shown(path) + "' (" + type + "): its factory returned null");
    populate(*module, node, path, depth);
    return module;
  }

 private:
  void check_node(const json& node, const std::string& path, int depth, uint64_t at) {
    const std::string where = "layer '" + shown(path) + "': ";
    if (depth > kMaxLayerDepth)
      fail(pf_.file, at, where + "layers are nested deeper than " + std::to_string(kMaxLayerDepth));
    if (!node.is_object()) fail(pf_.file, at, where + "architecture node is not an object");
    auto type = node.find("type");
    if (type == node.end() || !type->is_string() || type->get_ref<const std::string&>().empty())
      fail(pf_.file, at, where + "architecture node has no \"type\" string");
    auto version = node.find("version");
    if (version == node.end() || !version->is_number_unsigned() || version->get<uint64_t>() < 1 ||
        version->get<uint64_t>() > static_cast<uint64_t>(INT_MAX))
      fail(pf_.file, at, where + "\"version\" must be an integer >= 1");
    if (auto p = node.find("provider"); p != node.end() && !p->is_string())
      fail(pf_.file, at, where + "\"provider\" is not a string");
    if (auto c = node.find("config"); c != node.end() && !c->is_object())
      fail(pf_.file, at, where + "\"config\" is not an object");
    if (auto c = node.find("children"); c != node.end()) {
      if (!c->is_array()) fail(pf_.file, at, where + "\"children\" is not an array");
      if (c->size() > kMaxChildren)
        fail(pf_.file, at, where + std::to_string(c->size()) + " children (at most " + std::to_string(kMaxChildren) + ")");
      std::set<std::string> names;
      for (const auto& child : *c) {
        auto name = child.is_object() ? child.find("name") : child.end();
        if (!child.is_object() || name == child.end() || !name->is_string())
          fail(pf_.file, at, where + "a child has no \"name\" string");
        const auto& n = name->get_ref<const std::string&>();
        if (n.empty() || n.find('.') != std::string::npos)
          fail(pf_.file, at, where + "invalid child name \"" + n + "\" (non-empty, no '.')");
        if (!names.insert(n).second) fail(pf_.file, at, where + "two children are named \"" + n + "\"");
      }
    }
  }

  // Children the factory made are matched by name; the others are built and attached in order.
  void populate(nn::Module& module, const json& node, const std::string& path, int depth) {
    auto children = node.find("children");
    if (children == node.end()) return;
    for (const auto& child : *children) {
      const std::string& name = child.at("name").get_ref<const std::string&>();
      const std::string child_path = path.empty() ? name : path + "." + name;
      if (nn::ModulePtr existing = module.child(name)) {
        const uint64_t at = cursor_ = pf_.locate("type", cursor_ + 1);
        check_node(child, child_path, depth + 1, at);
        const std::string& type = child.at("type").get_ref<const std::string&>();
        if (existing->type_name() != type)
          fail(pf_.file, at, "layer '" + child_path + "' is a " + type + " in the file but its parent (" +
                                 module.type_name() + ") built a " + existing->type_name());
        populate(*existing, child, child_path, depth + 1);
      } else {
        nn::ModulePtr built = build(child, child_path, depth + 1);
        module.register_module(name, built);
      }
    }
  }

  std::string writer_version() const {
    auto v = pf_.json.find("kiln_version");
    return v != pf_.json.end() && v->is_string() ? "Kiln " + v->get<std::string>() : "unknown version";
  }

  const ParsedFile& pf_;
  uint64_t cursor_;
};
}  // namespace

Tensor read_tensor(const ParsedFile& pf, const TensorEntry& e) {
  Tensor t = make_tensor(e.shape, e.dtype, default_device());
  if constexpr (std::endian::native == std::endian::big) {
    std::vector<unsigned char> buf(pf.data_at(e.offset), pf.data_at(e.offset) + e.length);
    swap_elements(buf.data(), buf.size(), dtype_size(e.dtype));
    write_bytes(t, 0, buf.data(), buf.size());
  } else {
    write_bytes(t, 0, pf.data_at(e.offset), e.length);
  }
  return t;
}

nn::ModulePtr build_model(const ParsedFile& pf) {
  const uint64_t arch_at = pf.locate("architecture");
  // Note [Allocation budget]: layers allocate their parameters (and initialisation temporaries)
  // from their config; a config asking for far more than the file's data section is hostile.
  const uint64_t budget = 8 * pf.header.data_length + (64ull << 20);
  // Building layers draws initial weights from the default generator; loading must not move it.
  Generator& gen = default_generator();
  const uint64_t seed = gen.seed(), offset = gen.offset();
  nn::ModulePtr model;
  try {
    AllocationBudget guard(budget);
    model = Builder(pf).build(pf.json.at("architecture"), "", 0);
  } catch (...) {
    gen.set_state(seed, offset);
    throw;
  }
  gen.set_state(seed, offset);
  model->train(pf.json.value("training", true));

  std::map<std::string, Tensor> own = model->state_dict();
  std::map<std::string, const TensorEntry*> in_file;
  for (const auto& e : pf.model_tensors) in_file[e.name] = &e;
  for (const auto& [name, e] : in_file)
    if (!own.count(name))
      fail(pf.file, e->index_at, "tensor '" + name + "' is in the file, but the model rebuilt from the architecture " +
                                     "has no parameter or buffer of that name");
  for (const auto& [name, t] : own) {
    auto it = in_file.find(name);
    if (it == in_file.end())
      fail(pf.file, arch_at, "the model rebuilt from the architecture has a parameter or buffer '" + name +
                                 "' but the file has no tensor of that name");
    const TensorEntry& e = *it->second;
    if (e.shape != t.shape())
      fail(pf.file, e.index_at, "tensor '" + name + "' is " + e.shape.str() + " in the file, but the layer built " +
                                    "from its config has " + t.shape().str());
    if (is_floating(e.dtype) != is_floating(t.dtype()))
      fail(pf.file, e.index_at, "tensor '" + name + "' is " + std::string(dtype_name(e.dtype)) + " in the file, " +
                                    "but the layer built from its config has " + std::string(dtype_name(t.dtype())));
  }
  for (auto& [name, t] : own) {
    // Put the file's data under the layer's own handle (its dtype too: a model saved after
    // to(kFloat64) comes back in float64), with no copy.
    Tensor loaded = read_tensor(pf, *in_file.at(name));
    TensorImpl* dst = t.impl();
    dst->storage = loaded.impl()->storage;
    dst->shape = loaded.shape();
    dst->strides = loaded.strides();
    dst->offset = loaded.offset();
    dst->dtype = loaded.dtype();
    dst->device = loaded.device();
  }
  return model;
}

namespace {
// Optimizer state keys: "<group>.<index>.<name>" or "group.<group>.lr" (Optimizer::state_dict).
bool valid_optimizer_key(const std::string& key) {
  auto number = [](const std::string& s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (key.rfind("group.", 0) == 0) {
    std::string rest = key.substr(6);
    size_t dot = rest.find('.');
    return dot != std::string::npos && number(rest.substr(0, dot)) && rest.substr(dot + 1) == "lr";
  }
  size_t a = key.find('.');
  if (a == std::string::npos) return false;
  size_t b = key.find('.', a + 1);
  if (b == std::string::npos || b + 1 >= key.size()) return false;
  std::string name = key.substr(b + 1);
  return number(key.substr(0, a)) && number(key.substr(a + 1, b - a - 1)) &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}
}  // namespace

Checkpoint read_checkpoint(const ParsedFile& pf, bool model_only) {
  Checkpoint ck;
  ck.model = build_model(pf);
  if (model_only) return ck;
  const auto& j = pf.json;
  if (auto opt = j.find("optimizer"); opt != j.end()) {
    ck.optimizer = opt->at("name").get<std::string>();
    for (const auto& e : pf.optimizer_tensors) {
      if (!valid_optimizer_key(e.name))
        fail(pf.file, e.index_at, "optimizer state key '" + e.name +
                                      "' is not of the form <group>.<index>.<name> or group.<group>.lr");
      ck.optimizer_state[e.name] = read_tensor(pf, e);
    }
  }
  if (auto e = j.find("epoch"); e != j.end()) ck.epoch = e->get<int64_t>();
  if (auto r = j.find("rng"); r != j.end()) {
    ck.rng_seed = r->at("seed").get<uint64_t>();
    ck.rng_offset = r->at("offset").get<uint64_t>();
    ck.has_rng = true;
  }
  if (auto m = j.find("metadata"); m != j.end()) ck.metadata = to_ordered(*m);
  return ck;
}

}  // namespace detail::kiln_file

namespace {
namespace kf = detail::kiln_file;

// The file, memory-mapped read-only (pages are read as tensors are copied out).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) kf::fail(path, 0, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      kf::fail(path, 0, "not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      int err = errno;
      ::close(fd);
      if (p == MAP_FAILED) kf::fail(path, 0, std::string("cannot map: ") + std::strerror(err));
      data_ = static_cast<const unsigned char*>(p);
    } else {
      ::close(fd);
    }
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};
}  // namespace

namespace detail::kiln_file {
Checkpoint load_from_memory(const unsigned char* bytes, size_t size, const std::string& file, const ReadOptions& options,
                            bool model_only) {
  try {
    return read_checkpoint(parse(bytes, size, file, options), model_only);
  } catch (const nlohmann::json::exception& e) {
    // The parse checked the structure this code reads; this is a safety net, not a path.
    fail(file, size >= kHeaderSize ? kHeaderSize : 0, std::string("unexpected JSON content: ") + e.what());
  }
}
}  // namespace detail::kiln_file

nn::ModulePtr load(const std::string& path) {
  MappedFile file(path);
  return kf::load_from_memory(file.data(), file.size(), path, {}, /*model_only=*/true).model;
}

Checkpoint load_checkpoint(const std::string& path) {
  MappedFile file(path);
  return kf::load_from_memory(file.data(), file.size(), path);
}

nlohmann::ordered_json read_kiln_header(const std::string& path) {
  MappedFile file(path);
  kf::ParsedFile pf = kf::parse(file.data(), file.size(), path, {.verify_checksums = true, .read_data = false});
  nlohmann::ordered_json out = kf::to_ordered(pf.json);
  const auto& h = pf.header;
  out["header"] = {{"format_version", h.format_version}, {"flags", h.flags},
                   {"json_offset", h.json_offset},       {"json_length", h.json_length},
                   {"data_offset", h.data_offset},       {"data_length", h.data_length},
                   {"file_size", pf.size}};
  return out;
}

}  // namespace kiln
