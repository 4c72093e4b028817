// Op dispatch.
//
// Note [Fallback]: host-memory backends (ref, tbb, blas) share one memory domain, so an op the
// chosen backend lacks runs on the next host backend in priority order with no copy. For a device
// backend, a missing op copies its inputs to the host, runs there and copies the outputs back
// (logged once per op), unless KILN_STRICT_BACKEND=1, which makes it an error naming the op,
// dtypes and backend.
#include "dispatch/dispatch.hpp"

#include <kiln/error.hpp>
#include <kiln/plugin/op_info.h>

#include <atomic>
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
  throw_status_error(s, msg);
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
      std::fprintf(stderr, "%-8s %-24s %10lld %12.2f %10.2f %6.1f%%\n", key.first.c_str(), kiln_op_name(key.second),
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

// Note [Launching v1 and v2 plugins]: core describes tensors as v2 descriptors and attribute
// structs with their v2 header. A v2 plugin gets them as they are, through device_supports and
// launch_v2 (with a launch id, which stream_failed_launch names again for a deferred error). A v1
// plugin gets v1 descriptors (the same fields, without struct_size, buffer and byte_offset) and
// the attribute struct past its 8-byte header (KILN_ATTRS_V1_OFFSET), through supports and launch.
std::atomic<uint64_t> g_next_launch_id{1};

kiln_launch_desc launch_desc(kiln_op op, const std::vector<kiln_tensor_desc>& descs, size_t num_inputs,
                             const void* attrs, uint64_t launch_id) {
  kiln_launch_desc l{};
  l.struct_size = sizeof(kiln_launch_desc);
  l.op = op;
  l.num_inputs = static_cast<int32_t>(num_inputs);
  l.num_outputs = static_cast<int32_t>(descs.size() - num_inputs);
  l.tensor_desc_size = sizeof(kiln_tensor_desc);
  l.inputs = descs.data();
  l.outputs = descs.data() + num_inputs;
  l.attrs = attrs;
  l.launch_id = launch_id;
  return l;
}

kiln_tensor_desc_v1 to_v1(const kiln_tensor_desc& d) {
  kiln_tensor_desc_v1 v1;
  v1.data = d.data;
  v1.dtype = d.dtype;
  v1.ndim = d.ndim;
  v1.offset = d.offset;
  std::memcpy(v1.shape, d.shape, sizeof v1.shape);
  std::memcpy(v1.strides, d.strides, sizeof v1.strides);
  return v1;
}

bool supports(BackendEntry* b, DeviceEntry& dev, kiln_op op, const std::vector<kiln_tensor_desc>& descs,
              size_t num_inputs, const std::vector<int32_t>& dtypes, const void* attrs) {
  if (b->abi_version >= 2) {
    const kiln_launch_desc l = launch_desc(op, descs, num_inputs, attrs, 0);
    return b->api->device_supports(dev.handle, &l) != 0;
  }
  return backend_claims(b, op, dtypes, attrs);
}

void launch_on(BackendEntry* b, DeviceEntry& dev, kiln_op op, const std::vector<kiln_tensor_desc>& descs,
               size_t num_inputs, const void* attrs, const std::vector<int32_t>& dtypes) {
  OpProfile* profile = OpProfile::get();
  const auto start = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  kiln_status s;
  std::lock_guard stream_lock(dev.stream_mutex);  // the threading contract: one thread per stream
  if (b->abi_version >= 2) {
    const uint64_t id = g_next_launch_id.fetch_add(1, std::memory_order_relaxed);
    const kiln_launch_desc l = launch_desc(op, descs, num_inputs, attrs, id);
    if (!b->host_accessible) dev.recent_launches[id % DeviceEntry::kRecentLaunches] = {id, op};
    s = b->api->launch_v2(dev.stream, &l);
  } else {
    KILN_ASSERT(descs.size() <= KILN_OP_MAX_TENSORS, "too many tensors for one launch");
    kiln_tensor_desc_v1 v1[KILN_OP_MAX_TENSORS];
    for (size_t i = 0; i < descs.size(); ++i) v1[i] = to_v1(descs[i]);
    s = b->api->launch(dev.stream, op, v1, static_cast<int32_t>(num_inputs), v1 + num_inputs,
                       static_cast<int32_t>(descs.size() - num_inputs), attrs_v1(attrs));
  }
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
  d.struct_size = sizeof(kiln_tensor_desc);
  d.flags = 0;
  d.data = impl->storage->data();
  d.buffer = impl->storage->block.buffer;
  d.byte_offset = 0;  // a storage is one whole buffer
  d.dtype = static_cast<int32_t>(impl->dtype);
  d.ndim = static_cast<int32_t>(impl->shape.size());
  d.offset = impl->offset;
  for (int i = 0; i < KILN_MAX_DIMS; ++i) {
    d.shape[i] = i < d.ndim ? impl->shape[i] : 1;
    d.strides[i] = i < d.ndim ? impl->strides[i] : 0;
  }
  return d;
}

const char* op_name(kiln_op op) { return kiln_op_name(op); }
int op_num_inputs(kiln_op op) { return kiln_op_info(op)->num_inputs; }
int op_num_outputs(kiln_op op) { return kiln_op_info(op)->num_outputs; }

std::vector<int32_t> op_signature(kiln_op op, DType dtype) {
  const struct kiln_op_info* info = kiln_op_info(op);
  KILN_ASSERT(info != nullptr, "op_signature of unknown op ", static_cast<int>(op));
  // The signature letters of ops.def, whether or not the op is defined for `dtype` (the caller
  // asks a backend next); CAST's "any" output is float32.
  std::vector<int32_t> out;
  for (const char* c = info->signature; *c; ++c)
    out.push_back(*c == KILN_SIG_INDEX ? KILN_DTYPE_INT64
                  : *c == KILN_SIG_BOOL ? KILN_DTYPE_BOOL
                  : *c == KILN_SIG_ANY  ? KILN_DTYPE_FLOAT32
                                        : static_cast<int32_t>(dtype));
  return out;
}

const void* attrs_v1(const void* attrs) {
  return attrs ? static_cast<const char*>(attrs) + KILN_ATTRS_V1_OFFSET : nullptr;
}

bool backend_claims(BackendEntry* b, kiln_op op, const std::vector<int32_t>& dtypes, const void* attrs) {
  return b->api->supports(b->api->backend, op, dtypes.data(), static_cast<int32_t>(dtypes.size()), attrs_v1(attrs)) !=
         0;
}

[[noreturn]] void throw_status_error(kiln_status status, const std::string& message) {
  switch (status) {
    case KILN_STATUS_INDEX_OUT_OF_RANGE: throw IndexError(message);
    case KILN_STATUS_OUT_OF_MEMORY:
    case KILN_STATUS_NO_DEVICE: throw DeviceError(message);
    default: throw BackendError(message);
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
  if (supports(b, dev, op, args.descs, args.num_inputs, args.dtypes, attrs)) {
    launch_on(b, dev, op, args.descs, args.num_inputs, attrs, args.dtypes);
    return true;
  }
  if (!b->host_accessible) return false;
  for (BackendEntry* h : Registry::get().host_backends()) {
    if (h == b || !supports(h, h->device(0), op, args.descs, args.num_inputs, args.dtypes, attrs)) continue;
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
    if (!supports(h, h->device(0), op, host_descs, host_inputs.size(), dtypes, attrs)) continue;
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
  KILN_CHECK(supports(b, b->device(0), op, descs, inputs.size(), dtypes, attrs), BackendError, "backend '", b->name,
             "' does not support op '", op_name(op), "' ", dtype_list(dtypes));
  launch_on(b, b->device(0), op, descs, inputs.size(), attrs, dtypes);
}

void synchronize(const Device& device) {
  BackendEntry* b = device.entry();
  DeviceEntry& dev = b->device(device.index());
  if (b->host_accessible) return;
  kiln_status s;
  uint64_t failed = 0;
  {
    std::lock_guard stream_lock(dev.stream_mutex);
    s = b->api->stream_synchronize(dev.stream);
    if (s != KILN_STATUS_OK && b->abi_version >= 2) failed = b->api->stream_failed_launch(dev.stream);
  }
  if (s == KILN_STATUS_OK) return;
  throw_deferred_error(b, dev, device.str(), s, failed);
}

// Note [Deferred errors]: an asynchronous device reports a kernel's failure when the host next
// synchronizes, long after the launch returned. A v2 plugin names the failed launch's id
// (stream_failed_launch); the device's ring of recent launches turns it into the op's name.
[[noreturn]] void throw_deferred_error(BackendEntry* b, DeviceEntry& dev, const std::string& where, kiln_status s,
                                       uint64_t failed_launch) {
  std::string message = "synchronizing " + where + " failed: " + b->last_error();
  if (failed_launch != 0) {
    const auto& [id, op] = dev.recent_launches[failed_launch % DeviceEntry::kRecentLaunches];
    message += " (the failed op is launch #" + std::to_string(failed_launch);
    if (id == failed_launch) message += std::string(", '") + op_name(static_cast<kiln_op>(op)) + "'";
    message += "; it ran asynchronously, so the error surfaced at this synchronize)";
  }
  if (s == KILN_STATUS_INDEX_OUT_OF_RANGE) throw IndexError(message);
  throw DeviceError(message);
}

}  // namespace kiln::detail
