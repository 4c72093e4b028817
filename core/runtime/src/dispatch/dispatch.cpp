// Op dispatch.
//
// Note [Fallback]: host-memory backends (ref, tbb, blas) share one memory domain, so an op the
// chosen backend lacks runs on the next host backend in priority order with no copy. For a device
// backend, a missing op copies its inputs to the host, runs there and copies the outputs back
// (logged once per op), unless KILN_STRICT_BACKEND=1, which makes it an error naming the op,
// dtypes and backend.
#include "dispatch/dispatch.hpp"

#include <kiln/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace kiln::detail {

namespace {

struct OpInfo {
  const char* name;
  int num_inputs;
  int num_outputs;
};
constexpr OpInfo kOps[] = {
#define KILN_OP(id, name, nin, nout, attrs, kind) {name, nin, nout},
#include <kiln/plugin/ops.def>
#undef KILN_OP
};

bool strict_backend() {
  static const bool strict = [] {
    const char* v = std::getenv("KILN_STRICT_BACKEND");
    return v && *v && std::string(v) != "0";
  }();
  return strict;
}

// Logs the message of (op, backend) the first time only. The message is built only then: a
// fallback op runs on every call (blas hands every pointwise op to tbb), and building its text
// each time cost more than the dispatch itself.
template <typename MakeMessage>
void log_once(kiln_log_level level, kiln_op op, const BackendEntry* from, MakeMessage&& make_message) {
  static std::mutex mutex;
  static std::set<std::pair<int, const BackendEntry*>> seen;
  std::lock_guard lock(mutex);
  if (seen.insert({static_cast<int>(op), from}).second) log(level, make_message());
}

std::string dtype_list(const std::vector<int32_t>& dtypes) {
  std::string s;
  for (auto d : dtypes) s += (s.empty() ? "" : ", ") + std::string(dtype_name(static_cast<DType>(d)));
  return "(" + s + ")";
}

[[noreturn]] void throw_launch_error(BackendEntry* b, kiln_op op, kiln_status s, const std::vector<int32_t>& dtypes) {
  std::string msg = std::string("op '") + op_name(op) + "' " + dtype_list(dtypes) + " failed on backend '" +
                    b->name + "': " + b->last_error();
  if (s == KILN_STATUS_OUT_OF_MEMORY || s == KILN_STATUS_NO_DEVICE) throw DeviceError(msg);
  throw BackendError(msg);
}

bool supports(BackendEntry* b, kiln_op op, const std::vector<int32_t>& dtypes, const void* attrs) {
  return b->api->supports(b->api->backend, op, dtypes.data(), static_cast<int32_t>(dtypes.size()), attrs) != 0;
}

// Note [Op profile]: with KILN_PROFILE=1 every launch is timed, the device synchronized after it
// so that a GPU op's time is its own and not its predecessors'. At exit a table of ops by total
// time (calls, total ms, mean us, share) goes to stderr. It slows the program (no overlap of host
// and device); it is for finding where the time goes, as torch.profiler is.
class OpProfile {
 public:
  static OpProfile* get() {
    static OpProfile* profile = [] {
      const char* v = std::getenv("KILN_PROFILE");
      return (v && *v && std::string(v) != "0") ? new OpProfile : nullptr;
    }();
    return profile;
  }
  void add(const BackendEntry* b, kiln_op op, double seconds) {
    std::lock_guard lock(mutex_);
    Entry& e = entries_[{b->name, static_cast<int>(op)}];
    ++e.calls;
    e.seconds += seconds;
  }
  void reset() {
    std::lock_guard lock(mutex_);
    entries_.clear();
  }
  void print() {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::pair<std::string, int>, Entry>> rows(entries_.begin(), entries_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    int64_t calls = 0;
    for (const auto& r : rows) {
      total += r.second.seconds;
      calls += r.second.calls;
    }
    std::fprintf(stderr, "\nkiln op profile (KILN_PROFILE=1; each launch timed to completion)\n");
    std::fprintf(stderr, "%-8s %-24s %10s %12s %10s %7s\n", "backend", "op", "calls", "total ms", "mean us", "share");
    for (const auto& [key, e] : rows)
      std::fprintf(stderr, "%-8s %-24s %10lld %12.2f %10.2f %6.1f%%\n", key.first.c_str(), kOps[key.second].name,
                   static_cast<long long>(e.calls), e.seconds * 1e3, e.seconds * 1e6 / static_cast<double>(e.calls),
                   total > 0 ? 100.0 * e.seconds / total : 0.0);
    std::fprintf(stderr, "%-8s %-24s %10lld %12.2f\n", "", "total", static_cast<long long>(calls), total * 1e3);
  }

 private:
  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
  };
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, Entry> entries_;
};
// Prints the table at exit (the profile itself is never destroyed: ops may still run later).
struct OpProfilePrinter {
  ~OpProfilePrinter() {
    if (OpProfile* p = OpProfile::get()) p->print();
  }
} g_op_profile_printer;
}  // namespace

void reset_op_profile() {
  if (OpProfile* p = OpProfile::get()) p->reset();
}
void print_op_profile() {
  if (OpProfile* p = OpProfile::get()) p->print();
}

namespace {

void launch_on(BackendEntry* b, DeviceEntry& dev, kiln_op op, const std::vector<kiln_tensor_desc>& descs,
               size_t num_inputs, const void* attrs, const std::vector<int32_t>& dtypes) {
  OpProfile* profile = OpProfile::get();
  const auto start = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  kiln_status s = b->api->launch(dev.stream, op, descs.data(), static_cast<int32_t>(num_inputs),
                                 descs.data() + num_inputs, static_cast<int32_t>(descs.size() - num_inputs), attrs);
  if (s != KILN_STATUS_OK) throw_launch_error(b, op, s, dtypes);
  if (profile) {
    if (!b->host_accessible) b->api->stream_synchronize(dev.stream);
    profile->add(b, op, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

}  // namespace

Storage::~Storage() {
  if (device != nullptr) device->allocator->release(block);
}

std::shared_ptr<Storage> allocate_storage(const Device& device, size_t bytes) {
  auto s = std::make_shared<Storage>();
  s->backend = device.entry();
  s->device = &s->backend->device(device.index());
  s->block = s->device->allocator->allocate(bytes);
  s->bytes = bytes;
  return s;
}

namespace {
thread_local uint64_t* t_allocation_budget = nullptr;  // Note [Allocation budget]

void charge_allocation_budget(const Shape& shape, DType dtype) {
  uint64_t bytes = dtype_size(dtype);
  bool overflow = false;
  for (int64_t i = 0; i < shape.size(); ++i)
    overflow = overflow || __builtin_mul_overflow(bytes, static_cast<uint64_t>(shape[i]), &bytes);
  KILN_CHECK(!overflow && bytes <= *t_allocation_budget, DataError, "a tensor of shape ", shape, " (",
             dtype_name(dtype), ") is larger than the ", *t_allocation_budget,
             " bytes the file being loaded can account for");
  *t_allocation_budget -= bytes;
}
}  // namespace

AllocationBudget::AllocationBudget(uint64_t bytes) : left_(bytes), previous_(t_allocation_budget) {
  t_allocation_budget = &left_;
}
AllocationBudget::~AllocationBudget() { t_allocation_budget = previous_; }

Tensor make_tensor(const Shape& shape, DType dtype, const Device& device) {
  for (int64_t i = 0; i < shape.size(); ++i)
    KILN_CHECK(shape[i] >= 0, ShapeError, "tensor shape ", shape, " has a negative extent at axis ", i);
  if (t_allocation_budget != nullptr) charge_allocation_budget(shape, dtype);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = allocate_storage(device, static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  impl->device = device;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  impl->device = base.device();
  return Tensor(std::move(impl));
}

kiln_tensor_desc describe(const Tensor& t) {
  kiln_tensor_desc d;
  const TensorImpl* impl = t.impl();
  d.data = impl->storage->data();
  d.dtype = static_cast<int32_t>(impl->dtype);
  d.ndim = static_cast<int32_t>(impl->shape.size());
  d.offset = impl->offset;
  for (int i = 0; i < KILN_MAX_DIMS; ++i) {
    d.shape[i] = i < d.ndim ? impl->shape[i] : 1;
    d.strides[i] = i < d.ndim ? impl->strides[i] : 0;
  }
  return d;
}

const char* op_name(kiln_op op) { return op >= 0 && op < KILN_OP_COUNT ? kOps[op].name : "unknown-op"; }
int op_num_inputs(kiln_op op) { return kOps[op].num_inputs; }
int op_num_outputs(kiln_op op) { return kOps[op].num_outputs; }

std::vector<int32_t> op_signature(kiln_op op, DType dtype) {
  const int32_t d = static_cast<int32_t>(dtype), b = KILN_DTYPE_BOOL, i64 = KILN_DTYPE_INT64;
  switch (op) {
    case KILN_OP_EQ: case KILN_OP_NE: case KILN_OP_LT: case KILN_OP_LE: case KILN_OP_GT: case KILN_OP_GE:
      return {d, d, b};
    case KILN_OP_LOGICAL_NOT: return {d, b};
    case KILN_OP_WHERE: return {b, d, d, d};
    case KILN_OP_ARGMAX: case KILN_OP_ARGMIN: return {d, i64};
    case KILN_OP_MAXPOOL2D: return {d, d, i64};
    case KILN_OP_MAXPOOL2D_BACKWARD: return {d, i64, d};
    case KILN_OP_GATHER: case KILN_OP_INDEX_SELECT: case KILN_OP_EMBEDDING: case KILN_OP_EMBEDDING_BACKWARD:
      return {d, i64, d};
    case KILN_OP_SCATTER_ADD: return {d, i64, d, d};
    case KILN_OP_CAST: return {d, KILN_DTYPE_FLOAT32};
    default: return std::vector<int32_t>(static_cast<size_t>(kOps[op].num_inputs + kOps[op].num_outputs), d);
  }
}

void check_same_device(const char* op, std::initializer_list<Tensor> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    if (first == nullptr) {
      first = &t;
      continue;
    }
    if (t.device() == first->device()) continue;
    KILN_CHECK(t.device().is_host() && first->device().is_host(), DeviceError, op,
               ": expected all tensors on one device, got ", first->device().str(), " and ", t.device().str(),
               " (move one with .to(device))");
  }
}

namespace {
// The dtypes (inputs then outputs) and descriptors of one launch.
struct LaunchArgs {
  std::vector<int32_t> dtypes;
  std::vector<kiln_tensor_desc> descs;
  size_t num_inputs;
  LaunchArgs(std::initializer_list<Tensor> inputs, std::initializer_list<Tensor> outputs) : num_inputs(inputs.size()) {
    dtypes.reserve(inputs.size() + outputs.size());
    descs.reserve(inputs.size() + outputs.size());
    for (const Tensor& t : inputs) {
      dtypes.push_back(static_cast<int32_t>(t.dtype()));
      descs.push_back(describe(t));
    }
    for (const Tensor& t : outputs) {
      dtypes.push_back(static_cast<int32_t>(t.dtype()));
      descs.push_back(describe(t));
    }
  }
};

// Launches op where it needs no copy: on b, or for host memory on another host backend (the
// fallback in the same memory). False, with nothing launched, if neither runs it.
bool launch_without_copy(BackendEntry* b, DeviceEntry& dev, kiln_op op, const LaunchArgs& args, const void* attrs) {
  if (supports(b, op, args.dtypes, attrs)) {
    launch_on(b, dev, op, args.descs, args.num_inputs, attrs, args.dtypes);
    return true;
  }
  if (!b->host_accessible) return false;
  for (BackendEntry* h : Registry::get().host_backends()) {
    if (h == b || !supports(h, op, args.dtypes, attrs)) continue;
    log_once(KILN_LOG_INFO, op, b, [&] {
      return std::string("op '") + op_name(op) + "' " + dtype_list(args.dtypes) + " is not in backend '" + b->name +
             "'; running it on '" + h->name + "' in the same host memory";
    });
    launch_on(h, h->device(0), op, args.descs, args.num_inputs, attrs, args.dtypes);
    return true;
  }
  return false;
}
}  // namespace

bool run_without_copy(kiln_op op, const Device& device, std::initializer_list<Tensor> inputs,
                      std::initializer_list<Tensor> outputs, const void* attrs) {
  BackendEntry* b = device.entry();
  return launch_without_copy(b, b->device(device.index()), op, LaunchArgs(inputs, outputs), attrs);
}

void run(kiln_op op, const Device& device, std::initializer_list<Tensor> inputs,
         std::initializer_list<Tensor> outputs, const void* attrs) {
  BackendEntry* b = device.entry();
  DeviceEntry& dev = b->device(device.index());
  const LaunchArgs args(inputs, outputs);
  if (launch_without_copy(b, dev, op, args, attrs)) return;
  const std::vector<int32_t>& dtypes = args.dtypes;
  KILN_CHECK(!b->host_accessible, BackendError, "op '", op_name(op), "' ", dtype_list(dtypes),
             " is not supported by backend '", b->name, "' nor by any other loaded host backend");
  KILN_CHECK(!strict_backend(), BackendError, "op '", op_name(op), "' ", dtype_list(dtypes),
             " is not supported by backend '", b->name, "' and KILN_STRICT_BACKEND=1 forbids the host fallback");
  const auto& hosts = Registry::get().host_backends();
  KILN_CHECK(!hosts.empty(), BackendError, "op '", op_name(op), "' ", dtype_list(dtypes),
             " is not supported by backend '", b->name, "' and no host backend is loaded to fall back to");
  log_once(KILN_LOG_WARN, op, b, [&] {
    return std::string("op '") + op_name(op) + "' " + dtype_list(dtypes) + " is not in backend '" + b->name +
           "'; copying to the host and back for it (set KILN_STRICT_BACKEND=1 to make this an error)";
  });
  Device host(hosts.front(), 0);
  std::vector<Tensor> host_outputs;
  // Outputs of COPY/FILL may be views whose current contents matter: start from their values.
  for (const Tensor& t : outputs) host_outputs.push_back(t.to(host));
  std::vector<Tensor> host_inputs;
  for (const Tensor& t : inputs) host_inputs.push_back(t.to(host));
  std::vector<kiln_tensor_desc> host_descs;
  for (auto& t : host_inputs) host_descs.push_back(describe(t));
  for (auto& t : host_outputs) host_descs.push_back(describe(t));
  bool done = false;
  for (BackendEntry* h : hosts) {
    if (!supports(h, op, dtypes, attrs)) continue;
    launch_on(h, h->device(0), op, host_descs, host_inputs.size(), attrs, dtypes);
    done = true;
    break;
  }
  KILN_CHECK(done, BackendError, "op '", op_name(op), "' ", dtype_list(dtypes), " is not supported by backend '",
             b->name, "' nor by any host backend");
  size_t k = 0;
  for (const Tensor& t : outputs) {
    Tensor out = t;
    out.copy_(host_outputs[k++]);
  }
}

void run_exact(BackendEntry* b, kiln_op op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
               const void* attrs) {
  std::vector<int32_t> dtypes;
  std::vector<kiln_tensor_desc> descs;
  for (const Tensor& t : inputs) {
    dtypes.push_back(static_cast<int32_t>(t.dtype()));
    descs.push_back(describe(t));
  }
  for (const Tensor& t : outputs) {
    dtypes.push_back(static_cast<int32_t>(t.dtype()));
    descs.push_back(describe(t));
  }
  KILN_CHECK(supports(b, op, dtypes, attrs), BackendError, "backend '", b->name, "' does not support op '",
             op_name(op), "' ", dtype_list(dtypes));
  launch_on(b, b->device(0), op, descs, inputs.size(), attrs, dtypes);
}

void synchronize(const Device& device) {
  BackendEntry* b = device.entry();
  DeviceEntry& dev = b->device(device.index());
  if (b->host_accessible) return;
  kiln_status s = b->api->stream_synchronize(dev.stream);
  KILN_CHECK(s == KILN_STATUS_OK, DeviceError, "synchronizing ", device.str(), " failed: ", b->last_error());
}

void read_bytes(const Tensor& t, size_t byte_offset, void* dst, size_t bytes) {
  if (bytes == 0) return;
  Storage& s = *t.impl()->storage;
  KILN_ASSERT(byte_offset + bytes <= s.bytes, "read past the end of storage");
  if (s.backend->host_accessible) {
    std::memcpy(dst, static_cast<const char*>(s.data()) + byte_offset, bytes);
    return;
  }
  detail::synchronize(t.device());
  kiln_status st = s.backend->api->buffer_read(s.block.buffer, byte_offset, dst, bytes);
  KILN_CHECK(st == KILN_STATUS_OK, DeviceError, "reading ", bytes, " bytes from ", s.backend->name,
             " failed: ", s.backend->last_error());
}

void write_bytes(const Tensor& t, size_t byte_offset, const void* src, size_t bytes) {
  if (bytes == 0) return;
  Storage& s = *t.impl()->storage;
  KILN_ASSERT(byte_offset + bytes <= s.bytes, "write past the end of storage");
  if (s.backend->host_accessible) {
    std::memcpy(static_cast<char*>(s.data()) + byte_offset, src, bytes);
    return;
  }
  detail::synchronize(t.device());
  kiln_status st = s.backend->api->buffer_write(s.block.buffer, byte_offset, src, bytes);
  KILN_CHECK(st == KILN_STATUS_OK, DeviceError, "writing ", bytes, " bytes to ", s.backend->name, " failed: ",
             s.backend->last_error());
}

}  // namespace kiln::detail
