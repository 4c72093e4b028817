// The CUDA backend plugin's C table: devices, supports()/device_supports() and the launch paths
// (v2 launch_v2, and the v1 launch slot converted to it). Streams and events are in stream.cpp,
// buffers and copies in memory.cpp, kernels in the .cu files, cuBLAS in matmul.cpp, cuDNN in
// conv.cpp.
#include "device.hpp"
#include "ops.hpp"
#include "slots.hpp"

#include <kiln/plugin/op_info.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

namespace kiln::cuda {
namespace {

bool is_float(int32_t t) { return t == KILN_DTYPE_FLOAT32 || t == KILN_DTYPE_FLOAT64; }

// The ops this backend has kernels for (an op appended to ops.def later is not claimed until it
// has one here).
bool implemented(int32_t op) {
  switch (op) {
    case KILN_OP_NEG: case KILN_OP_ABS: case KILN_OP_SIGN: case KILN_OP_FLOOR: case KILN_OP_RELU:
    case KILN_OP_ADD_SCALAR: case KILN_OP_MUL_SCALAR: case KILN_OP_CLAMP: case KILN_OP_LEAKY_RELU:
    case KILN_OP_ADD: case KILN_OP_SUB: case KILN_OP_MUL: case KILN_OP_DIV: case KILN_OP_MAXIMUM: case KILN_OP_MINIMUM:
    case KILN_OP_SUM: case KILN_OP_PROD: case KILN_OP_MAX: case KILN_OP_MIN:
    case KILN_OP_EXP: case KILN_OP_LOG: case KILN_OP_SQRT: case KILN_OP_RSQRT: case KILN_OP_SIN: case KILN_OP_COS:
    case KILN_OP_SIGMOID: case KILN_OP_TANH: case KILN_OP_GELU: case KILN_OP_ERF: case KILN_OP_POW_SCALAR:
    case KILN_OP_POW: case KILN_OP_GELU_BACKWARD: case KILN_OP_RELU_BACKWARD: case KILN_OP_MEAN: case KILN_OP_LOGSUMEXP:
    case KILN_OP_VAR: case KILN_OP_MATMUL: case KILN_OP_CONV2D: case KILN_OP_CONV2D_BACKWARD_INPUT:
    case KILN_OP_CONV2D_BACKWARD_WEIGHT: case KILN_OP_AVGPOOL2D: case KILN_OP_AVGPOOL2D_BACKWARD: case KILN_OP_SOFTMAX:
    case KILN_OP_LOG_SOFTMAX: case KILN_OP_SOFTMAX_BACKWARD: case KILN_OP_LOG_SOFTMAX_BACKWARD: case KILN_OP_NORMAL:
    case KILN_OP_MUL_ADD: case KILN_OP_LOGICAL_NOT: case KILN_OP_EQ: case KILN_OP_NE: case KILN_OP_LT: case KILN_OP_LE:
    case KILN_OP_GT: case KILN_OP_GE: case KILN_OP_WHERE: case KILN_OP_ARGMAX: case KILN_OP_ARGMIN:
    case KILN_OP_MAXPOOL2D: case KILN_OP_MAXPOOL2D_BACKWARD: case KILN_OP_GATHER: case KILN_OP_INDEX_SELECT:
    case KILN_OP_EMBEDDING: case KILN_OP_SCATTER_ADD: case KILN_OP_EMBEDDING_BACKWARD: case KILN_OP_CAST:
    case KILN_OP_FILL: case KILN_OP_COPY: case KILN_OP_UNIFORM: case KILN_OP_BERNOULLI:
      return true;
    default:
      return false;
  }
}

// Exactly what launch_v2 runs. dtypes are the inputs' then the outputs'; attrs has the v2 layout
// (or is NULL). The catalogue's signature (kiln_op_takes) decides, narrowed where this backend
// has fewer kernels: no float16/bfloat16 yet (the host runs them on a host backend), no integer
// matmul, no bool maximum/minimum.
bool supports_impl(kiln_op op, const int32_t* d, int32_t n, const void* attrs) {
  const struct kiln_op_info* info = kiln_op_info(op);
  if (info == nullptr || !implemented(op)) return false;
  if (n != info->num_inputs + info->num_outputs || (n > 0 && d == nullptr)) return false;
  for (int32_t i = 0; i < n; ++i)
    if (!kiln_dtype_is_valid(d[i]) || kiln_dtype_is_half(d[i])) return false;
  if (!kiln_op_takes(op, d, n)) return false;
  switch (op) {
    case KILN_OP_MATMUL: return is_float(d[0]);  // integer matmul: a host backend runs it
    case KILN_OP_MAXIMUM: case KILN_OP_MINIMUM: return d[0] != KILN_DTYPE_BOOL;
    case KILN_OP_CONV2D: case KILN_OP_CONV2D_BACKWARD_INPUT: case KILN_OP_CONV2D_BACKWARD_WEIGHT: {
      const auto* c = static_cast<const kiln_conv2d_attrs*>(attrs);
      return c == nullptr || (c->groups >= 1 && c->stride[0] >= 1 && c->stride[1] >= 1 && c->dilation[0] >= 1 &&
                              c->dilation[1] >= 1 && c->padding[0] >= 0 && c->padding[1] >= 0);
    }
    default: return true;
  }
}

// ---------------------------------------------------------------------------------------------
// The backend object behind the C table.
class Backend {
 public:
  void initialize(const kiln_host_api* host) {
    host_ = host;
    std::call_once(devices_once_, [&] { find_devices(); });
  }
  int32_t device_count() const { return static_cast<int32_t>(devices_.size()); }
  std::vector<Device*> devices() const {
    std::vector<Device*> all;
    for (const auto& d : devices_) all.push_back(d.get());
    return all;
  }
  Device* device(int32_t i) const { return devices_[static_cast<size_t>(i)].get(); }
  const char* status_note() const { return devices_.empty() ? note_.c_str() : nullptr; }
  void log(kiln_log_level level, const std::string& message) const {
    if (host_ && host_->struct_size >= offsetof(kiln_host_api, log) + sizeof(host_->log) && host_->log)
      host_->log(level, message.c_str());
  }
  kiln_backend_api api{};

 private:
  void find_devices() {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      int runtime = 0, driver = 0;
      cudaRuntimeGetVersion(&runtime);
      cudaDriverGetVersion(&driver);
      std::ostringstream os;
      if (err == cudaErrorNoDevice)
        os << "no CUDA device";
      else if (driver == 0)
        os << "no CUDA driver found";
      else if (err == cudaErrorInsufficientDriver)
        os << "the CUDA driver is too old for this plugin";
      else
        os << "CUDA is unavailable";
      os << " (cudaGetDeviceCount: " << cudaGetErrorName(err) << ": " << cudaGetErrorString(err)
         << "; runtime " << runtime << ", driver " << driver << ")";
      note_ = os.str();
      (void)cudaGetLastError();
      return;
    }
    if (count == 0) {
      note_ = "no CUDA device (cudaGetDeviceCount returned 0)";
      return;
    }
    for (int i = 0; i < count; ++i) devices_.push_back(std::make_unique<Device>(i));
  }

  const kiln_host_api* host_ = nullptr;
  std::once_flag devices_once_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::string note_;
};

Backend& backend() {
  // Never destroyed: plugins stay loaded for the life of the process, and freeing CUDA objects
  // from a static destructor after the driver has shut down crashes.
  static Backend* instance = new Backend;
  return *instance;
}


std::string describe_dtypes(const kiln_tensor_desc* in, int32_t nin, const kiln_tensor_desc* out, int32_t nout) {
  std::string s = "(";
  for (int32_t i = 0; i < nin; ++i) s += std::string(i ? ", " : "") + dtype_name(in[i].dtype);
  s += ") -> (";
  for (int32_t i = 0; i < nout; ++i) s += std::string(i ? ", " : "") + dtype_name(out[i].dtype);
  return s + ")";
}

void dispatch(const Context& ctx, kiln_op_kind kind, const kiln_tensor_desc* in, int32_t nin,
              const kiln_tensor_desc* out, const void* attrs) {
  switch (kind) {
    case KILN_OP_KIND_UNARY: case KILN_OP_KIND_SCALAR_UNARY: case KILN_OP_KIND_BINARY: case KILN_OP_KIND_COMPARE:
    case KILN_OP_KIND_TERNARY:
      return run_pointwise(ctx, in, nin, out[0], attrs);
    case KILN_OP_KIND_REDUCE: return run_reduce(ctx, in[0], out[0], *static_cast<const kiln_reduce_attrs*>(attrs));
    case KILN_OP_KIND_ARGREDUCE:
      return run_argreduce(ctx, in[0], out[0], *static_cast<const kiln_reduce_attrs*>(attrs));
    case KILN_OP_KIND_MATMUL: return run_matmul(ctx, in[0], in[1], out[0]);
    case KILN_OP_KIND_CONV:
      return run_conv(ctx, in[0], in[1], out[0], *static_cast<const kiln_conv2d_attrs*>(attrs));
    case KILN_OP_KIND_POOL: return run_pool(ctx, in, out, *static_cast<const kiln_pool2d_attrs*>(attrs));
    case KILN_OP_KIND_SOFTMAX:
      return run_softmax(ctx, in, nin, out[0], *static_cast<const kiln_axis_attrs*>(attrs));
    case KILN_OP_KIND_INDEX: return run_index(ctx, in, out[0], attrs);
    case KILN_OP_KIND_CAST: return run_cast(ctx, in[0], out[0]);
    case KILN_OP_KIND_FILL: return run_fill(ctx, out[0], *static_cast<const kiln_scalar_attrs*>(attrs));
    case KILN_OP_KIND_COPY: return run_copy(ctx, in[0], out[0]);
    case KILN_OP_KIND_RANDOM: return run_random(ctx, out[0], *static_cast<const kiln_random_attrs*>(attrs));
    default: break;
  }
  fail(KILN_STATUS_INTERNAL, "cuda: ", ctx.op_name, ": no implementation (this is a bug in the cuda backend)");
}

// A launch's descriptors in this header's layout (the writer's may be longer: tensor_desc_size).
struct Tensors {
  kiln_tensor_desc in[KILN_OP_MAX_TENSORS];
  kiln_tensor_desc out[KILN_OP_MAX_TENSORS];
  int32_t dtypes[KILN_OP_MAX_TENSORS];
};

// Checks a launch (the shared validator, then what this backend runs) and copies its descriptors.
const struct kiln_op_info& validate_launch(const kiln_launch_desc* launch, Tensors& t) {
  char message[512];
  const kiln_status status = kiln_validate_launch(launch, message, sizeof message);
  if (status != KILN_STATUS_OK) fail(status, "cuda: ", message);
  const struct kiln_op_info& info = *kiln_op_info(launch->op);
  for (int32_t i = 0; i < info.num_inputs; ++i) std::memcpy(&t.in[i], kiln_launch_input(launch, i), sizeof(kiln_tensor_desc));
  for (int32_t i = 0; i < info.num_outputs; ++i)
    std::memcpy(&t.out[i], kiln_launch_output(launch, i), sizeof(kiln_tensor_desc));
  for (int32_t i = 0; i < info.num_inputs + info.num_outputs; ++i)
    t.dtypes[i] = i < info.num_inputs ? t.in[i].dtype : t.out[i - info.num_inputs].dtype;
  if (!supports_impl(static_cast<kiln_op>(launch->op), t.dtypes, info.num_inputs + info.num_outputs, launch->attrs))
    fail(KILN_STATUS_UNSUPPORTED, "cuda: ", info.name, " is not supported for dtypes ",
         describe_dtypes(t.in, info.num_inputs, t.out, info.num_outputs),
         " (float16 and bfloat16 run on a host backend for now)");
  return info;
}

// The block behind a descriptor: its buffer, or (v1 descriptors) the block at its base address.
Block* block_of(const kiln_tensor_desc& d, Device* device) {
  if (d.buffer != nullptr) return reinterpret_cast<Block*>(d.buffer);
  return d.data ? device->allocator().find(d.data) : nullptr;
}

kiln_status run_launch(kiln_stream_t handle, const kiln_launch_desc* launch) {
  return guard([&] {
    auto* stream = reinterpret_cast<Stream*>(handle);
    if (stream == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: launch on a null stream");
    Tensors t;
    const struct kiln_op_info& info = validate_launch(launch, t);
    Device* device = stream->device;
    for (int32_t i = 0; i < info.num_inputs + info.num_outputs; ++i) {
      const bool is_input = i < info.num_inputs;
      const kiln_tensor_desc& d = is_input ? t.in[i] : t.out[i - info.num_inputs];
      if (d.data == nullptr && numel(d) > 0)
        fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, ": ", is_input ? "input " : "output ",
             is_input ? i : i - info.num_inputs, " has no data pointer");
    }
    device->make_current();
    reset_reported_errors(stream);
    // Note [Stream ordering of reused blocks]: every buffer the launch touches.
    for (int32_t i = 0; i < info.num_inputs + info.num_outputs; ++i) {
      const bool is_input = i < info.num_inputs;
      const kiln_tensor_desc& d = is_input ? t.in[i] : t.out[i - info.num_inputs];
      Block* block = block_of(d, device);
      if (block == nullptr) continue;
      if (block->device != device)
        fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, ": ", is_input ? "input " : "output ",
             is_input ? i : i - info.num_inputs, " lives on cuda:", block->device->index(), " but the stream on cuda:",
             device->index(), " (copy it over first)");
      if (!is_input && block->read_only)
        fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, ": output ", i - info.num_inputs,
             " is read-only imported host memory");
      block->device->allocator().use(block, stream, false);
    }
    const uint64_t launch_id = launch->launch_id;
    ++stream->launch_seq;
    stream->last_launch_id = launch_id;
    stream->last_op = info.name;
    Context ctx{device, stream, stream->stream, static_cast<kiln_op>(launch->op), info.name, launch_id};
    dispatch(ctx, info.kind, t.in, info.num_inputs, t.out, launch->attrs);
  });
}

// The v1 attribute layout (no 8-byte header) as the v2 struct this backend reads.
struct V2Attrs {
  alignas(16) unsigned char bytes[256];
};
const void* attrs_from_v1(int32_t op, const void* attrs, V2Attrs& storage) {
  const struct kiln_op_info* info = kiln_op_info(op);
  if (attrs == nullptr || info == nullptr || info->attrs_size == 0) return nullptr;
  if (info->attrs_size > sizeof storage.bytes) fail(KILN_STATUS_INTERNAL, "cuda: attribute struct too large");
  std::memset(storage.bytes, 0, sizeof storage.bytes);
  const uint32_t size = info->attrs_size;
  std::memcpy(storage.bytes, &size, sizeof size);
  std::memcpy(storage.bytes + KILN_ATTRS_V1_OFFSET, attrs, size - KILN_ATTRS_V1_OFFSET);
  return storage.bytes;
}

// v1 launch slot: a v2 host never calls it on this plugin; kept working by converting.
kiln_status launch_v1(kiln_stream_t handle, kiln_op op, const kiln_tensor_desc_v1* inputs, int32_t num_inputs,
                      const kiln_tensor_desc_v1* outputs, int32_t num_outputs, const void* attrs) {
  return guard([&] {
    auto* stream = reinterpret_cast<Stream*>(handle);
    if (stream == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: launch on a null stream");
    if (num_inputs < 0 || num_outputs < 0 || num_inputs > KILN_OP_MAX_TENSORS || num_outputs > KILN_OP_MAX_TENSORS ||
        (num_inputs > 0 && inputs == nullptr) || (num_outputs > 0 && outputs == nullptr))
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: launch: bad tensor counts or arrays");
    kiln_tensor_desc in[KILN_OP_MAX_TENSORS], out[KILN_OP_MAX_TENSORS];
    auto convert = [&](const kiln_tensor_desc_v1& v1) {
      kiln_tensor_desc d{};
      d.struct_size = sizeof(kiln_tensor_desc);
      d.dtype = v1.dtype;
      d.ndim = v1.ndim;
      d.data = v1.data;
      d.buffer = v1.data ? reinterpret_cast<kiln_buffer_t>(stream->device->allocator().find(v1.data)) : nullptr;
      d.offset = v1.offset;
      std::memcpy(d.shape, v1.shape, sizeof d.shape);
      std::memcpy(d.strides, v1.strides, sizeof d.strides);
      return d;
    };
    for (int32_t i = 0; i < num_inputs; ++i) in[i] = convert(inputs[i]);
    for (int32_t i = 0; i < num_outputs; ++i) out[i] = convert(outputs[i]);
    V2Attrs storage;
    kiln_launch_desc launch{};
    launch.struct_size = sizeof(kiln_launch_desc);
    launch.op = op;
    launch.num_inputs = num_inputs;
    launch.num_outputs = num_outputs;
    launch.tensor_desc_size = sizeof(kiln_tensor_desc);
    launch.inputs = in;
    launch.outputs = out;
    launch.attrs = attrs_from_v1(op, attrs, storage);
    launch.launch_id = 0;
    const kiln_status status = run_launch(handle, &launch);
    if (status != KILN_STATUS_OK) fail(status, last_error_slot());
  });
}

int32_t supports_v1(kiln_backend_t, kiln_op op, const int32_t* dtypes, int32_t n, const void* attrs) {
  try {
    V2Attrs storage;
    return supports_impl(op, dtypes, n, attrs_from_v1(op, attrs, storage)) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

// What launch_v2 would refuse as UNSUPPORTED from the shapes alone: cuBLAS and cuDNN take int
// extents (matmul.cpp, conv.cpp).
bool shapes_supported(const struct kiln_op_info& info, const Tensors& t) {
  if (info.kind != KILN_OP_KIND_MATMUL && info.kind != KILN_OP_KIND_CONV) return true;
  for (int32_t i = 0; i < info.num_inputs + info.num_outputs; ++i) {
    const kiln_tensor_desc& d = i < info.num_inputs ? t.in[i] : t.out[i - info.num_inputs];
    for (int32_t k = 0; k < d.ndim; ++k)
      if (d.shape[k] > INT_MAX) return false;
  }
  return true;
}

int32_t device_supports(kiln_device_t handle, const kiln_launch_desc* launch) {
  try {
    if (handle == nullptr) return 0;
    Tensors t;
    const struct kiln_op_info& info = validate_launch(launch, t);  // data pointers may be NULL here
    return shapes_supported(info, t) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

kiln_status launch_v2(kiln_stream_t stream, const kiln_launch_desc* launch) { return run_launch(stream, launch); }

// ---- devices ----
kiln_status device_get(kiln_backend_t, int32_t index, kiln_device_t* out) {
  if (out == nullptr) return set_error(KILN_STATUS_INVALID_ARGUMENT, "cuda: device_get: out is NULL");
  if (index < 0 || index >= backend().device_count())
    return set_error(backend().device_count() ? KILN_STATUS_INVALID_ARGUMENT : KILN_STATUS_NO_DEVICE,
                     "cuda: device index " + std::to_string(index) + " out of range (" +
                         std::to_string(backend().device_count()) + " devices" +
                         (backend().status_note() ? std::string(": ") + backend().status_note() : "") + ")");
  *out = reinterpret_cast<kiln_device_t>(backend().device(index));
  return KILN_STATUS_OK;
}

// How many streams run concurrently: the driver's hardware work queues per device
// (CUDA_DEVICE_MAX_CONNECTIONS, 8 unless set); more streams than that share queues.
int32_t max_streams() {
  static const int32_t value = [] {
    const char* env = std::getenv("CUDA_DEVICE_MAX_CONNECTIONS");
    const int n = env ? std::atoi(env) : 0;
    return n > 0 && n <= 32 ? n : 8;
  }();
  return value;
}

kiln_status device_props(kiln_device_t handle, kiln_device_props* p) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || p == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: device_props: null argument");
    cudaDeviceProp prop{};
    cudaError_t err = cudaGetDeviceProperties(&prop, device->index());
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      fail(KILN_STATUS_DEVICE_ERROR, "cuda: cudaGetDeviceProperties(", device->index(), "): ", cudaGetErrorString(err));
    }
    std::memset(p, 0, sizeof(*p));
    p->struct_size = sizeof(kiln_device_props);
    p->abi_version = KILN_ABI_VERSION;
    std::memcpy(p->name, prop.name, std::min(std::strlen(prop.name), sizeof(p->name) - 1));
    p->kind = KILN_DEVICE_GPU;
    p->host_accessible = 0;
    p->total_memory = prop.totalGlobalMem;
    device->make_current();
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      p->free_memory = free_bytes;
      p->total_memory = total_bytes;
    }
    (void)cudaGetLastError();
    p->compute_units = prop.multiProcessorCount;
    p->caches_memory = 1;  // Note [Caching allocator]: the one cache; the host adds none on top
    p->async = 1;
    p->max_streams = max_streams();
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Helpers declared in common.hpp / slots.hpp.
std::vector<Device*> all_devices() { return backend().devices(); }

const char* op_name(int32_t op) { return kiln_op_name(op); }

void check_cuda(cudaError_t err, const Context& ctx, const char* what) {
  if (err == cudaSuccess) return;
  (void)cudaGetLastError();
  const bool oom = err == cudaErrorMemoryAllocation;
  fail(oom ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR, "cuda: ", ctx.op_name, ": ", what,
       " failed: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err),
       oom ? "" : " (an asynchronous error may come from an earlier launch on this device)");
}

const char* dtype_name(int32_t dtype) { return kiln_dtype_name(dtype); }

std::string shape_string(const kiln_tensor_desc& d) {
  std::string s = "[";
  for (int32_t i = 0; i < d.ndim; ++i) s += (i ? ", " : "") + std::to_string(d.shape[i]);
  return s + "]";
}

bool same_shape(const kiln_tensor_desc& a, const kiln_tensor_desc& b) {
  if (a.ndim != b.ndim) return false;
  for (int32_t i = 0; i < a.ndim; ++i)
    if (a.shape[i] != b.shape[i]) return false;
  return true;
}

}  // namespace kiln::cuda

// ---------------------------------------------------------------------------------------------
extern "C" KILN_PLUGIN_EXPORT kiln_status kiln_backend_init(const kiln_host_api* host, uint32_t host_abi_version,
                                                            const kiln_backend_api** out_api) {
  using namespace kiln::cuda;
  if (out_api == nullptr) return KILN_STATUS_INVALID_ARGUMENT;
  if (host_abi_version < 1) return set_error(KILN_STATUS_UNSUPPORTED, "cuda: host ABI version 0 is not supported");
  return guard([&] {
    Backend& b = backend();
    b.initialize(host);
    kiln_backend_api& api = b.api;
    api = kiln_backend_api{
        .struct_size = sizeof(kiln_backend_api),
        .abi_version = KILN_ABI_VERSION,
        .name = "cuda",
        .version = "0.2.0",
        .priority = 100,
        .backend = reinterpret_cast<kiln_backend_t>(&b),
        .last_error = [](kiln_backend_t) -> const char* { return kiln::cuda::last_error_slot().c_str(); },
        .status_note = [](kiln_backend_t) -> const char* { return backend().status_note(); },
        .device_count = [](kiln_backend_t) -> int32_t { return backend().device_count(); },
        .device_get = device_get,
        .device_props = device_props,
        .buffer_alloc = buffer_alloc,
        .buffer_free = buffer_free,
        .buffer_data = buffer_data,
        .buffer_write = buffer_write,
        .buffer_read = buffer_read,
        .stream_create = stream_create,
        .stream_destroy = stream_destroy,
        .stream_synchronize = stream_synchronize,
        .supports = supports_v1,
        .launch = launch_v1,
        .event_create = event_create,
        .event_destroy = event_destroy,
        .event_record = event_record,
        .stream_wait_event = stream_wait_event,
        .event_synchronize = event_synchronize,
        .event_query = event_query,
        .buffer_write_async = buffer_write_async,
        .buffer_read_async = buffer_read_async,
        .buffer_copy = buffer_copy,
        .device_can_access_peer = device_can_access_peer,
        .buffer_copy_peer = buffer_copy_peer,
        .host_alloc = host_alloc,
        .host_free = host_free,
        .buffer_import_host = buffer_import_host,
        .device_supports = device_supports,
        .launch_v2 = launch_v2,
        .stream_failed_launch = stream_failed_launch,
    };
    if (b.device_count() == 0) b.log(KILN_LOG_INFO, std::string("cuda: ") + b.status_note());
    *out_api = &api;
  });
}
