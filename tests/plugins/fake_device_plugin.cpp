// A v2 backend whose one device the host must treat as device memory: its buffers are host memory
// underneath, but its props say host_accessible = 0 and async = 1, so core takes the paths a GPU
// takes (pinned staging, device copies, the side stream, deferred errors) on a machine without
// one. Ops: float32 add, fill, copy, and gather, whose out-of-range index is not reported at launch
// but at the next synchronize, with stream_failed_launch naming the launch (as on a GPU).
// Counters (fakedev_counters) let the tests see which slots the host used.
#include <kiln/plugin/host_backend.hpp>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>

namespace {

struct Counters {
  std::atomic<int64_t> write_async{0}, read_async{0}, buffer_copy{0}, sync_write{0}, sync_read{0}, host_alloc{0},
      stream_wait_event{0}, streams{0};
};
Counters g_counters;

// The deferred error of the (single) stream: set by a bad gather, reported at synchronize.
std::mutex g_error_mutex;
uint64_t g_failed_launch = 0;
std::string g_failed_message;

class FakeDevice final : public kiln::plugin::HostBackend {
 public:
  FakeDevice() : HostBackend("fakedev", "1.0.0", 1) {}
  bool supports(kiln_op op, const int32_t* dtypes, int32_t n, const void*) override {
    for (int32_t i = 0; i < n; ++i) {
      bool index_operand = op == KILN_OP_GATHER && i == 1;
      if (dtypes[i] != (index_operand ? KILN_DTYPE_INT64 : KILN_DTYPE_FLOAT32)) return false;
    }
    return op == KILN_OP_ADD || op == KILN_OP_FILL || op == KILN_OP_COPY || op == KILN_OP_GATHER;
  }
  void launch(kiln_op, const kiln_tensor_desc*, int32_t, const kiln_tensor_desc*, int32_t, const void*) override {
    kiln::plugin::fail(KILN_STATUS_INTERNAL, "fakedev launches through launch_v2 only");
  }
  std::string device_name() const override { return "fake device (host memory behind a device interface)"; }
};

// Element (logical, row-major index i) of a strided descriptor.
float& at(const kiln_tensor_desc& d, int64_t i) {
  int64_t off = d.offset;
  for (int32_t k = d.ndim - 1; k >= 0; --k) {
    off += (i % d.shape[k]) * d.strides[k];
    i /= d.shape[k];
  }
  return static_cast<float*>(d.data)[off];
}

kiln_status run(const kiln_launch_desc* l) {
  const kiln_tensor_desc& out = l->outputs[0];
  const int64_t n = kiln_desc_numel(&out);
  switch (l->op) {
    case KILN_OP_ADD:
      for (int64_t i = 0; i < n; ++i) at(out, i) = at(l->inputs[0], i) + at(l->inputs[1], i);
      return KILN_STATUS_OK;
    case KILN_OP_FILL: {
      const auto* a = static_cast<const kiln_scalar_attrs*>(l->attrs);
      for (int64_t i = 0; i < n; ++i) at(out, i) = static_cast<float>(a->a);
      return KILN_STATUS_OK;
    }
    case KILN_OP_COPY:
      for (int64_t i = 0; i < n; ++i) at(out, i) = at(l->inputs[0], i);
      return KILN_STATUS_OK;
    case KILN_OP_GATHER: {
      // 1-D only (what the tests use): out[i] = x[index[i]]
      const kiln_tensor_desc& x = l->inputs[0];
      const kiln_tensor_desc& index = l->inputs[1];
      if (x.ndim != 1 || index.ndim != 1) return KILN_STATUS_UNSUPPORTED;
      for (int64_t i = 0; i < n; ++i) {
        int64_t k = static_cast<const int64_t*>(index.data)[index.offset + i * index.strides[0]];
        if (k < 0 || k >= x.shape[0]) {
          std::lock_guard lock(g_error_mutex);
          if (g_failed_launch == 0) {
            g_failed_launch = l->launch_id;
            g_failed_message = "fakedev: gather: index " + std::to_string(k) + " at position " + std::to_string(i) +
                               " is out of range [0, " + std::to_string(x.shape[0]) + ")";
          }
          return KILN_STATUS_OK;  // as a GPU kernel: the launch itself succeeds
        }
        at(out, i) = at(x, k);
      }
      return KILN_STATUS_OK;
    }
    default:
      return KILN_STATUS_UNSUPPORTED;
  }
}

kiln_status deferred() {
  std::lock_guard lock(g_error_mutex);
  if (g_failed_launch == 0) return KILN_STATUS_OK;
  kiln::plugin::last_error_slot() = g_failed_message;
  return KILN_STATUS_INDEX_OUT_OF_RANGE;
}

kiln_backend_api g_api;
const kiln_backend_api* g_kit_api = nullptr;

}  // namespace

extern "C" KILN_PLUGIN_EXPORT const Counters* fakedev_counters() { return &g_counters; }

extern "C" KILN_PLUGIN_EXPORT kiln_status kiln_backend_init(const kiln_host_api* host, uint32_t host_abi_version,
                                                            const kiln_backend_api** out_api) {
  kiln_status s = kiln::plugin::export_host_backend<FakeDevice>(host, host_abi_version, &g_kit_api);
  if (s != KILN_STATUS_OK) {
    *out_api = g_kit_api;
    return s;
  }
  g_api = *g_kit_api;
  g_api.device_props = [](kiln_device_t d, kiln_device_props* p) -> kiln_status {
    kiln_status st = g_kit_api->device_props(d, p);
    p->host_accessible = 0;
    p->async = 1;
    return st;
  };
  g_api.stream_create = [](kiln_device_t d, kiln_stream_t* out) -> kiln_status {
    ++g_counters.streams;
    return g_kit_api->stream_create(d, out);
  };
  g_api.buffer_write = [](kiln_buffer_t b, uint64_t o, const void* src, uint64_t n) -> kiln_status {
    ++g_counters.sync_write;
    return g_kit_api->buffer_write(b, o, src, n);
  };
  g_api.buffer_read = [](kiln_buffer_t b, uint64_t o, void* dst, uint64_t n) -> kiln_status {
    ++g_counters.sync_read;
    return g_kit_api->buffer_read(b, o, dst, n);
  };
  g_api.buffer_write_async = [](kiln_stream_t s, kiln_buffer_t b, uint64_t o, const void* src, uint64_t n) -> kiln_status {
    ++g_counters.write_async;
    return g_kit_api->buffer_write_async(s, b, o, src, n);
  };
  g_api.buffer_read_async = [](kiln_stream_t s, kiln_buffer_t b, uint64_t o, void* dst, uint64_t n) -> kiln_status {
    ++g_counters.read_async;
    return g_kit_api->buffer_read_async(s, b, o, dst, n);
  };
  g_api.buffer_copy = [](kiln_stream_t s, kiln_buffer_t a, uint64_t ao, kiln_buffer_t b, uint64_t bo,
                         uint64_t n) -> kiln_status {
    ++g_counters.buffer_copy;
    return g_kit_api->buffer_copy(s, a, ao, b, bo, n);
  };
  g_api.host_alloc = [](kiln_device_t d, uint64_t n, void** out) -> kiln_status {
    ++g_counters.host_alloc;
    return g_kit_api->host_alloc(d, n, out);
  };
  g_api.stream_wait_event = [](kiln_stream_t s, kiln_event_t e) -> kiln_status {
    ++g_counters.stream_wait_event;
    return g_kit_api->stream_wait_event(s, e);
  };
  g_api.launch_v2 = [](kiln_stream_t, const kiln_launch_desc* l) -> kiln_status { return run(l); };
  g_api.stream_synchronize = [](kiln_stream_t) -> kiln_status { return deferred(); };
  g_api.event_synchronize = [](kiln_event_t) -> kiln_status { return deferred(); };
  g_api.stream_failed_launch = [](kiln_stream_t) -> uint64_t {
    std::lock_guard lock(g_error_mutex);
    uint64_t id = g_failed_launch;
    g_failed_launch = 0;  // reading clears it
    return id;
  };
  *out_api = &g_api;
  return KILN_STATUS_OK;
}
