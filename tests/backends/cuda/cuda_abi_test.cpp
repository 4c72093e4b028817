// The CUDA plugin through the C ABI v2, without core: events, stream-ordered copies, several
// streams at once, pinned and imported host memory, peer copies, deferred index errors that name
// the op and the launch, and device_supports. Every test is skipped, naming why, where the plugin
// has no device (its status note) or, for peer copies, fewer than two.
#include <kiln/plugin/kiln_backend.h>

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#ifndef KILN_CUDA_PLUGIN_PATH
#error "KILN_CUDA_PLUGIN_PATH must name the cuda plugin (tests/backends/cuda/CMakeLists.txt)"
#endif

namespace {

struct Plugin {
  const kiln_backend_api* api = nullptr;
  std::string why_unusable;  // "" when it has a device
};

const Plugin& plugin() {
  static const Plugin p = [] {
    Plugin r;
    void* handle = dlopen(KILN_CUDA_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      r.why_unusable = std::string("the cuda plugin does not load: ") + dlerror();
      return r;
    }
    auto init = reinterpret_cast<kiln_backend_init_fn>(dlsym(handle, KILN_BACKEND_INIT_SYMBOL));
    static const kiln_host_api host{sizeof(kiln_host_api), KILN_ABI_VERSION, "test", nullptr};
    if (init == nullptr || init(&host, KILN_ABI_VERSION, &r.api) != KILN_STATUS_OK) {
      r.why_unusable = "kiln_backend_init failed";
      r.api = nullptr;
      return r;
    }
    if (r.api->device_count(r.api->backend) == 0) {
      const char* note = r.api->status_note(r.api->backend);
      r.why_unusable = std::string("backend 'cuda' has no device: ") + (note ? note : "(no note)");
    }
    return r;
  }();
  return p;
}

class CudaAbi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!plugin().why_unusable.empty()) GTEST_SKIP() << plugin().why_unusable;
    api = plugin().api;
    ASSERT_EQ(api->device_get(api->backend, 0, &device), KILN_STATUS_OK);
    ASSERT_EQ(api->stream_create(device, &stream), KILN_STATUS_OK) << error();
  }
  void TearDown() override {
    for (kiln_buffer_t b : buffers) api->buffer_free(b);
    if (stream) api->stream_destroy(stream);
  }
  std::string error() const { return api->last_error(api->backend); }

  // A contiguous tensor in a fresh buffer.
  kiln_tensor_desc make(std::vector<int64_t> shape, int32_t dtype, kiln_device_t on = nullptr) {
    kiln_tensor_desc d{};
    d.struct_size = sizeof(kiln_tensor_desc);
    d.dtype = dtype;
    d.ndim = static_cast<int32_t>(shape.size());
    int64_t n = 1;
    for (int32_t i = d.ndim - 1; i >= 0; --i) {
      d.shape[i] = shape[static_cast<size_t>(i)];
      d.strides[i] = n;
      n *= d.shape[i];
    }
    kiln_buffer_t b = nullptr;
    EXPECT_EQ(api->buffer_alloc(on ? on : device, static_cast<uint64_t>(n) * kiln_dtype_size(dtype), &b),
              KILN_STATUS_OK);
    buffers.push_back(b);
    d.buffer = b;
    d.data = api->buffer_data(b);
    return d;
  }
  template <class T>
  void write(const kiln_tensor_desc& d, const std::vector<T>& v) {
    ASSERT_EQ(api->buffer_write(d.buffer, 0, v.data(), v.size() * sizeof(T)), KILN_STATUS_OK) << error();
  }
  template <class T>
  std::vector<T> read(const kiln_tensor_desc& d) {
    int64_t n = 1;
    for (int32_t i = 0; i < d.ndim; ++i) n *= d.shape[i];
    std::vector<T> v(static_cast<size_t>(n));
    EXPECT_EQ(api->buffer_read(d.buffer, 0, v.data(), v.size() * sizeof(T)), KILN_STATUS_OK) << error();
    return v;
  }
  kiln_launch_desc launch(kiln_op op, const std::vector<kiln_tensor_desc>& in, const std::vector<kiln_tensor_desc>& out,
                          const void* attrs, uint64_t id) {
    kiln_launch_desc l{};
    l.struct_size = sizeof(kiln_launch_desc);
    l.op = op;
    l.num_inputs = static_cast<int32_t>(in.size());
    l.num_outputs = static_cast<int32_t>(out.size());
    l.tensor_desc_size = sizeof(kiln_tensor_desc);
    l.inputs = in.data();
    l.outputs = out.data();
    l.attrs = attrs;
    l.launch_id = id;
    return l;
  }
  kiln_status run(kiln_stream_t s, kiln_op op, const std::vector<kiln_tensor_desc>& in,
                  const std::vector<kiln_tensor_desc>& out, const void* attrs = nullptr, uint64_t id = 1) {
    kiln_launch_desc l = launch(op, in, out, attrs, id);
    return api->launch_v2(s, &l);
  }

  const kiln_backend_api* api = nullptr;
  kiln_device_t device = nullptr;
  kiln_stream_t stream = nullptr;
  std::vector<kiln_buffer_t> buffers;
};

TEST_F(CudaAbi, DeclaresV2AndItsProps) {
  EXPECT_EQ(api->abi_version, 2u);
  EXPECT_GE(api->struct_size, sizeof(kiln_backend_api));
  kiln_device_props p{};
  ASSERT_EQ(api->device_props(device, &p), KILN_STATUS_OK) << error();
  EXPECT_EQ(p.caches_memory, 1);
  EXPECT_EQ(p.async, 1);
  EXPECT_GE(p.max_streams, 1);
}

TEST_F(CudaAbi, HalfDtypesAreNotClaimed) {
  kiln_tensor_desc a = make({4}, KILN_DTYPE_FLOAT32), y = make({4}, KILN_DTYPE_FLOAT32);
  kiln_launch_desc l = launch(KILN_OP_ADD, {a, a}, {y}, nullptr, 1);
  EXPECT_EQ(api->device_supports(device, &l), 1);
  kiln_tensor_desc h = a;
  h.dtype = KILN_DTYPE_FLOAT16;
  kiln_tensor_desc hy = y;
  hy.dtype = KILN_DTYPE_FLOAT16;
  l = launch(KILN_OP_ADD, {h, h}, {hy}, nullptr, 1);
  EXPECT_EQ(api->device_supports(device, &l), 0);
  h.dtype = hy.dtype = KILN_DTYPE_BFLOAT16;
  l = launch(KILN_OP_ADD, {h, h}, {hy}, nullptr, 1);
  EXPECT_EQ(api->device_supports(device, &l), 0);
  EXPECT_EQ(api->launch_v2(stream, &l), KILN_STATUS_UNSUPPORTED);
}

TEST_F(CudaAbi, EventsOrderStreamsAndQueryReportsNotReadyOrOk) {
  kiln_stream_t other = nullptr;
  ASSERT_EQ(api->stream_create(device, &other), KILN_STATUS_OK) << error();
  const int64_t n = 1 << 24;
  kiln_tensor_desc x = make({n}, KILN_DTYPE_FLOAT32), y = make({n}, KILN_DTYPE_FLOAT32);
  kiln_scalar_attrs three = kiln_scalar_attrs_init();
  three.a = 3.0;
  ASSERT_EQ(run(stream, KILN_OP_FILL, {}, {x}, &three), KILN_STATUS_OK) << error();
  kiln_event_t filled = nullptr;
  ASSERT_EQ(api->event_create(device, &filled), KILN_STATUS_OK) << error();
  EXPECT_EQ(api->event_query(filled), KILN_STATUS_OK);  // never recorded: done
  ASSERT_EQ(api->event_record(filled, stream), KILN_STATUS_OK) << error();
  const kiln_status q = api->event_query(filled);
  EXPECT_TRUE(q == KILN_STATUS_OK || q == KILN_STATUS_NOT_READY) << q;
  // The other stream reads x only after the fill.
  ASSERT_EQ(api->stream_wait_event(other, filled), KILN_STATUS_OK) << error();
  ASSERT_EQ(run(other, KILN_OP_NEG, {x}, {y}), KILN_STATUS_OK) << error();
  kiln_event_t done = nullptr;
  ASSERT_EQ(api->event_create(device, &done), KILN_STATUS_OK);
  ASSERT_EQ(api->event_record(done, other), KILN_STATUS_OK);
  ASSERT_EQ(api->event_synchronize(done), KILN_STATUS_OK) << error();
  EXPECT_EQ(api->event_query(done), KILN_STATUS_OK);
  std::vector<float> got(16);
  ASSERT_EQ(api->buffer_read_async(other, y.buffer, static_cast<uint64_t>(n - 16) * 4, got.data(), 64), KILN_STATUS_OK);
  ASSERT_EQ(api->stream_synchronize(other), KILN_STATUS_OK) << error();
  for (float v : got) EXPECT_EQ(v, -3.0f);
  api->event_destroy(filled);
  api->event_destroy(done);
  api->stream_destroy(other);
}

TEST_F(CudaAbi, AsyncCopiesWithPinnedMemoryAndDeviceToDevice) {
  const uint64_t n = 1000;
  void* pinned = nullptr;
  ASSERT_EQ(api->host_alloc(device, n * 4, &pinned), KILN_STATUS_OK) << error();
  auto* p = static_cast<float*>(pinned);
  for (uint64_t i = 0; i < n; ++i) p[i] = static_cast<float>(i);
  kiln_tensor_desc a = make({static_cast<int64_t>(n)}, KILN_DTYPE_FLOAT32);
  kiln_tensor_desc b = make({static_cast<int64_t>(n)}, KILN_DTYPE_FLOAT32);
  ASSERT_EQ(api->buffer_write_async(stream, a.buffer, 0, pinned, n * 4), KILN_STATUS_OK) << error();
  // Shift by 10 elements device to device; ranges of one buffer that overlap are refused.
  ASSERT_EQ(api->buffer_copy(stream, a.buffer, 0, b.buffer, 40, (n - 10) * 4), KILN_STATUS_OK) << error();
  ASSERT_EQ(api->buffer_copy(stream, a.buffer, 0, b.buffer, 0, 40), KILN_STATUS_OK) << error();
  EXPECT_EQ(api->buffer_copy(stream, a.buffer, 0, a.buffer, 4, 40), KILN_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(api->buffer_copy(stream, a.buffer, 0, b.buffer, 8, n * 4), KILN_STATUS_INVALID_ARGUMENT);  // overruns
  std::memset(pinned, 0, n * 4);  // the stream is past the write once it reads back below
  ASSERT_EQ(api->stream_synchronize(stream), KILN_STATUS_OK) << error();
  ASSERT_EQ(api->buffer_read_async(stream, b.buffer, 0, pinned, n * 4), KILN_STATUS_OK) << error();
  ASSERT_EQ(api->stream_synchronize(stream), KILN_STATUS_OK) << error();
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(p[i], static_cast<float>(i));
  for (uint64_t i = 10; i < n; ++i) ASSERT_EQ(p[i], static_cast<float>(i - 10)) << i;
  api->host_free(device, pinned);
  api->host_free(device, nullptr);
}

TEST_F(CudaAbi, ImportedHostMemoryIsReadInPlaceAndNeverFreed) {
  std::vector<float> weights(4096);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 0.5f * static_cast<float>(i);
  kiln_buffer_t imported = nullptr;
  const kiln_status s = api->buffer_import_host(device, weights.data(), weights.size() * 4, &imported);
  if (s == KILN_STATUS_UNSUPPORTED) GTEST_SKIP() << "this device cannot map host memory: " << error();
  ASSERT_EQ(s, KILN_STATUS_OK) << error();
  kiln_tensor_desc w{};
  w.struct_size = sizeof(kiln_tensor_desc);
  w.dtype = KILN_DTYPE_FLOAT32;
  w.ndim = 1;
  w.shape[0] = 4096;
  w.strides[0] = 1;
  w.buffer = imported;
  w.data = api->buffer_data(imported);
  ASSERT_NE(w.data, nullptr);
  kiln_tensor_desc y = make({4096}, KILN_DTYPE_FLOAT32);
  ASSERT_EQ(run(stream, KILN_OP_NEG, {w}, {y}), KILN_STATUS_OK) << error();
  ASSERT_EQ(api->stream_synchronize(stream), KILN_STATUS_OK) << error();
  auto got = read<float>(y);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], -weights[i]) << i;
  api->buffer_free(imported);
  weights[7] = 1.0f;  // still the caller's memory, still writable
  EXPECT_EQ(weights[7], 1.0f);
  // A range that overlaps a registered one is refused, with a message.
  kiln_buffer_t again = nullptr;
  ASSERT_EQ(api->buffer_import_host(device, weights.data(), weights.size() * 4, &again), KILN_STATUS_OK) << error();
  kiln_buffer_t overlap = nullptr;
  EXPECT_NE(api->buffer_import_host(device, weights.data() + 16, 64, &overlap), KILN_STATUS_OK);
  api->buffer_free(again);
}

TEST_F(CudaAbi, OutOfRangeIndexIsReportedAtSynchronizeNamingOpValueAndLaunch) {
  kiln_tensor_desc x = make({2, 3}, KILN_DTYPE_FLOAT32), index = make({2, 2}, KILN_DTYPE_INT64),
                   y = make({2, 2}, KILN_DTYPE_FLOAT32);
  write<float>(x, {1, 2, 3, 4, 5, 6});
  write<int64_t>(index, {0, 2, 1, 7});
  kiln_axis_attrs axis = kiln_axis_attrs_init();
  axis.axis = 1;
  ASSERT_EQ(run(stream, KILN_OP_GATHER, {x, index}, {y}, &axis, 41), KILN_STATUS_OK) << error();
  ASSERT_EQ(run(stream, KILN_OP_NEG, {x}, {make({2, 3}, KILN_DTYPE_FLOAT32)}, nullptr, 42), KILN_STATUS_OK);
  ASSERT_EQ(api->stream_synchronize(stream), KILN_STATUS_INDEX_OUT_OF_RANGE);
  const std::string message = error();
  EXPECT_NE(message.find("gather"), std::string::npos) << message;
  EXPECT_NE(message.find("index 7"), std::string::npos) << message;
  EXPECT_NE(message.find("[1, 1]"), std::string::npos) << message;  // its position
  EXPECT_NE(message.find("[0, 3)"), std::string::npos) << message;
  EXPECT_EQ(api->stream_failed_launch(stream), 41u);
  EXPECT_EQ(api->stream_failed_launch(stream), 0u);  // reading clears it
  EXPECT_EQ(api->stream_synchronize(stream), KILN_STATUS_OK) << "reported once";
  // The stream works, and records the next violation (embedding, found through an event).
  write<int64_t>(index, {0, 1, -1, 1});
  kiln_tensor_desc emb = make({2, 2, 3}, KILN_DTYPE_FLOAT32);
  kiln_tensor_desc weight = x;  // [2, 3]: rows 0 and 1
  kiln_event_t before = nullptr, after = nullptr;
  ASSERT_EQ(api->event_create(device, &before), KILN_STATUS_OK);
  ASSERT_EQ(api->event_create(device, &after), KILN_STATUS_OK);
  ASSERT_EQ(api->event_record(before, stream), KILN_STATUS_OK);
  kiln_embedding_attrs none = kiln_embedding_attrs_init();
  none.padding_idx = -1;
  ASSERT_EQ(run(stream, KILN_OP_EMBEDDING, {weight, index}, {emb}, &none, 43), KILN_STATUS_OK) << error();
  ASSERT_EQ(api->event_record(after, stream), KILN_STATUS_OK);
  EXPECT_EQ(api->event_synchronize(before), KILN_STATUS_OK) << "an error after the event is not its";
  ASSERT_EQ(api->event_synchronize(after), KILN_STATUS_INDEX_OUT_OF_RANGE);
  EXPECT_NE(error().find("embedding"), std::string::npos) << error();
  EXPECT_NE(error().find("index -1"), std::string::npos) << error();
  EXPECT_EQ(api->stream_failed_launch(stream), 43u);
  EXPECT_EQ(api->stream_synchronize(stream), KILN_STATUS_OK) << "already reported by event_synchronize";
  // A later launch records again after the reset.
  write<int64_t>(index, {0, 9, 1, 1});
  ASSERT_EQ(run(stream, KILN_OP_GATHER, {x, index}, {y}, &axis, 44), KILN_STATUS_OK) << error();
  EXPECT_EQ(api->stream_synchronize(stream), KILN_STATUS_INDEX_OUT_OF_RANGE);
  EXPECT_EQ(api->stream_failed_launch(stream), 44u);
  api->event_destroy(before);
  api->event_destroy(after);
}

TEST_F(CudaAbi, EveryIndexOpNamesTheBadIndexAndItsPosition) {
  kiln_axis_attrs axis0 = kiln_axis_attrs_init();
  axis0.axis = 0;
  auto expect_error = [&](const char* op, const char* value, const char* position, uint64_t id) {
    ASSERT_EQ(api->stream_synchronize(stream), KILN_STATUS_INDEX_OUT_OF_RANGE) << op;
    const std::string m = error();
    EXPECT_NE(m.find(op), std::string::npos) << m;
    EXPECT_NE(m.find(value), std::string::npos) << m;
    EXPECT_NE(m.find(position), std::string::npos) << m;
    EXPECT_EQ(api->stream_failed_launch(stream), id) << m;
  };
  {  // index_select: src [4, 3], index [2] along axis 0
    kiln_tensor_desc src = make({4, 3}, KILN_DTYPE_FLOAT32), index = make({2}, KILN_DTYPE_INT64),
                     out = make({2, 3}, KILN_DTYPE_FLOAT32);
    write<float>(src, std::vector<float>(12, 1.0f));
    write<int64_t>(index, {1, 5});
    ASSERT_EQ(run(stream, KILN_OP_INDEX_SELECT, {src, index}, {out}, &axis0, 7), KILN_STATUS_OK) << error();
    expect_error("index_select", "index 5", "[1] of the index tensor of shape [2]", 7);
  }
  {  // scatter_add: self [3], index [4], src [4] along axis 0
    kiln_tensor_desc self = make({3}, KILN_DTYPE_FLOAT32), index = make({4}, KILN_DTYPE_INT64),
                     src = make({4}, KILN_DTYPE_FLOAT32), out = make({3}, KILN_DTYPE_FLOAT32);
    write<float>(self, {0, 0, 0});
    write<float>(src, {1, 1, 1, 1});
    write<int64_t>(index, {0, 1, 3, 2});
    ASSERT_EQ(run(stream, KILN_OP_SCATTER_ADD, {self, index, src}, {out}, &axis0, 8), KILN_STATUS_OK) << error();
    expect_error("scatter_add", "index 3", "[2] of the index tensor of shape [4]", 8);
    EXPECT_EQ(read<float>(out), (std::vector<float>{1, 1, 1}));  // the bad index was skipped
  }
  {  // embedding_backward: dy [2, 4], index [2], dW [3, 4]
    kiln_tensor_desc dy = make({2, 4}, KILN_DTYPE_FLOAT32), index = make({2}, KILN_DTYPE_INT64),
                     dw = make({3, 4}, KILN_DTYPE_FLOAT32);
    write<float>(dy, std::vector<float>(8, 1.0f));
    write<int64_t>(index, {1, 6});
    kiln_embedding_attrs none = kiln_embedding_attrs_init();
    none.padding_idx = -1;
    ASSERT_EQ(run(stream, KILN_OP_EMBEDDING_BACKWARD, {dy, index}, {dw}, &none, 9), KILN_STATUS_OK) << error();
    expect_error("embedding_backward", "index 6", "[1] of the index tensor of shape [2]", 9);
  }
}

TEST_F(CudaAbi, StreamsOnTwoThreadsReuseEachOthersFreedBlocksSafely) {
  // Each thread drives its own stream, allocating, filling, freeing and reading back; the cache
  // hands blocks one stream freed (maybe still in use by it) to the other.
  auto work = [&](kiln_stream_t s, float value, int* bad) {
    kiln_scalar_attrs fill = kiln_scalar_attrs_init();
    fill.a = value;
    for (int step = 0; step < 50; ++step) {
      kiln_buffer_t a = nullptr, b = nullptr;
      const int64_t n = 1 << 20;
      if (api->buffer_alloc(device, n * 4, &a) != KILN_STATUS_OK || api->buffer_alloc(device, n * 4, &b) != KILN_STATUS_OK) {
        ++*bad;
        return;
      }
      kiln_tensor_desc da{}, db{};
      da.struct_size = db.struct_size = sizeof(kiln_tensor_desc);
      da.dtype = db.dtype = KILN_DTYPE_FLOAT32;
      da.ndim = db.ndim = 1;
      da.shape[0] = db.shape[0] = n;
      da.strides[0] = db.strides[0] = 1;
      da.buffer = a;
      da.data = api->buffer_data(a);
      db.buffer = b;
      db.data = api->buffer_data(b);
      std::vector<kiln_tensor_desc> none, out_a{da}, in_a{da}, out_b{db};
      kiln_launch_desc fill_a = launch(KILN_OP_FILL, none, out_a, &fill, 1);
      kiln_launch_desc neg = launch(KILN_OP_NEG, in_a, out_b, nullptr, 2);
      if (api->launch_v2(s, &fill_a) != KILN_STATUS_OK || api->launch_v2(s, &neg) != KILN_STATUS_OK) ++*bad;
      float last = 0;
      if (api->buffer_read_async(s, b, (n - 1) * 4, &last, 4) != KILN_STATUS_OK ||
          api->stream_synchronize(s) != KILN_STATUS_OK || last != -value)
        ++*bad;
      api->buffer_free(a);
      api->buffer_free(b);
    }
  };
  kiln_stream_t other = nullptr;
  ASSERT_EQ(api->stream_create(device, &other), KILN_STATUS_OK);
  int bad1 = 0, bad2 = 0;
  std::thread t1(work, stream, 1.0f, &bad1), t2(work, other, 2.0f, &bad2);
  t1.join();
  t2.join();
  EXPECT_EQ(bad1, 0);
  EXPECT_EQ(bad2, 0);
  api->stream_destroy(other);
}

TEST_F(CudaAbi, PeerCopyBetweenTwoDevices) {
  if (api->device_count(api->backend) < 2) GTEST_SKIP() << "needs two CUDA devices, found one";
  kiln_device_t second = nullptr;
  ASSERT_EQ(api->device_get(api->backend, 1, &second), KILN_STATUS_OK);
  kiln_stream_t on_second = nullptr;
  ASSERT_EQ(api->stream_create(second, &on_second), KILN_STATUS_OK);
  kiln_tensor_desc a = make({256}, KILN_DTYPE_FLOAT32), b = make({256}, KILN_DTYPE_FLOAT32, second);
  std::vector<float> v(256);
  for (int i = 0; i < 256; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i) * 1.5f;
  write(a, v);
  (void)api->device_can_access_peer(device, second);  // either way the copy works
  ASSERT_EQ(api->buffer_copy_peer(on_second, a.buffer, 0, b.buffer, 0, 256 * 4), KILN_STATUS_OK) << error();
  ASSERT_EQ(api->stream_synchronize(on_second), KILN_STATUS_OK) << error();
  EXPECT_EQ(read<float>(b), v);
  api->stream_destroy(on_second);
}

}  // namespace
