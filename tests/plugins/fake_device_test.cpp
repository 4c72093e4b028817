// Core's device paths of ABI v2 on a machine without a GPU, through fake_device_plugin.cpp (a v2
// plugin whose device says host_accessible = 0 and async = 1): transfers storage to storage through
// pinned staging (no synchronous buffer_read/buffer_write), the side stream of
// Tensor::to(device, true), the DataLoader's `device`, and deferred errors that name the op.
#include <kiln/data/dataloader.hpp>
#include <kiln/device.hpp>
#include <kiln/error.hpp>
#include <kiln/ops.hpp>

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <atomic>
#include <string>
#include <vector>

namespace kiln {
namespace {

struct Counters {
  std::atomic<int64_t> write_async, read_async, buffer_copy, sync_write, sync_read, host_alloc, stream_wait_event,
      streams;
};

const Counters& counters() {
  static const Counters* c = [] {
    const std::string path = std::string(KILN_TEST_PLUGIN_DIR) + "/kiln_backend_fakedev.so";
    load_plugin(path);
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    EXPECT_NE(lib, nullptr);
    auto fn = reinterpret_cast<const Counters* (*)()>(dlsym(lib, "fakedev_counters"));
    EXPECT_NE(fn, nullptr);
    return fn();
  }();
  return *c;
}

const Device& fakedev() {
  counters();
  static const Device d("fakedev:0");
  return d;
}

std::vector<float> ramp(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i % 1000) * 0.5f;
  return v;
}

TEST(FakeDevice, IsADeviceToTheHost) { EXPECT_FALSE(fakedev().is_host()); }

TEST(FakeDevice, LargeTensorsRoundTripThroughPinnedStagingInChunks) {
  const Counters& c = counters();
  const int64_t n = 3'000'000;  // 12 MB: three 4 MiB chunks and a partial one
  std::vector<float> values = ramp(n);
  const int64_t writes = c.write_async, reads = c.read_async, sync_w = c.sync_write, sync_r = c.sync_read;
  Tensor on_device = from_vector(values, {n}).to(fakedev());
  EXPECT_EQ(on_device.device(), fakedev());
  EXPECT_EQ(c.write_async - writes, 3);  // ceil(12,000,000 / 4 MiB)
  std::vector<float> back = on_device.to(Device("cpu")).to_vector<float>();
  EXPECT_EQ(c.read_async - reads, 3);
  EXPECT_EQ(back, values);
  EXPECT_EQ(c.sync_write - sync_w, 0) << "a v2 device's copies are stream-ordered, not synchronous";
  EXPECT_EQ(c.sync_read - sync_r, 0);
  EXPECT_EQ(c.host_alloc.load(), 2) << "two pinned staging buffers per device, allocated once";
}

TEST(FakeDevice, OpsRunOnTheDeviceAndReadBack) {
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4}, {4}).to(fakedev());
  Tensor b = add(a, a);
  EXPECT_EQ(b.device(), fakedev());
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{2, 4, 6, 8}));
  EXPECT_FLOAT_EQ(b.select(0, 3).item<float>(), 8.0f);
}

TEST(FakeDevice, NonBlockingCopiesRunOnTheSideStreamAndOrderTheMainStream) {
  const Counters& c = counters();
  const int64_t waits = c.stream_wait_event;
  Tensor x = from_vector(ramp(1000), {1000}).to(fakedev(), /*non_blocking=*/true);
  EXPECT_EQ(c.stream_wait_event - waits, 1) << "the main stream waits for the side stream's copy";
  EXPECT_GE(c.streams.load(), 2) << "the copy stream is a second stream on the device";
  EXPECT_EQ(add(x, x).to_vector<float>()[999], 2 * ramp(1000)[999]);
}

TEST(FakeDevice, ADeferredIndexErrorNamesTheOpThatFailed) {
  Tensor x = from_vector(std::vector<float>{1, 2, 3}, {3}).to(fakedev());
  Tensor index = from_vector(std::vector<int64_t>{0, 7}, {2}).to(fakedev());
  Tensor y = gather(x, 0, index);  // the launch succeeds, as a GPU kernel's would
  try {
    (void)y.to_vector<float>();
    FAIL() << "expected IndexError";
  } catch (const IndexError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("index 7 at position 1 is out of range [0, 3)"), std::string::npos) << what;
    EXPECT_NE(what.find("'gather'"), std::string::npos) << what;
    EXPECT_NE(what.find("launch #"), std::string::npos) << what;
  }
  // The error was reported once; the device keeps working.
  EXPECT_EQ(add(x, x).to_vector<float>(), (std::vector<float>{2, 4, 6}));
}

class Squares : public data::Dataset {
 public:
  int64_t size() const override { return 10; }
  data::Example get(int64_t i) const override {
    return {full({2}, static_cast<double>(i * i)), scalar_tensor(static_cast<double>(i))};
  }
};

TEST(FakeDevice, TheDataLoaderHandsBatchesToTheDevice) {
  data::DataLoader loader(std::make_shared<Squares>(), {.batch_size = 4, .num_workers = 1, .device = fakedev()});
  loader.start_epoch(0);
  int64_t seen = 0;
  while (auto batch = loader.next()) {
    EXPECT_EQ(batch->input.device(), fakedev());
    EXPECT_EQ(batch->target.device(), fakedev());
    std::vector<float> x = batch->input.to_vector<float>();
    std::vector<float> y = batch->target.to_vector<float>();
    for (size_t r = 0; r < y.size(); ++r) EXPECT_EQ(x[2 * r], y[r] * y[r]);
    seen += static_cast<int64_t>(y.size());
  }
  EXPECT_EQ(seen, 10);
}

}  // namespace
}  // namespace kiln
