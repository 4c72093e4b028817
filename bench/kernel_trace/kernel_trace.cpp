// A CUDA injection library that totals the GPU time of every kernel a program runs, by name.
//
//   CUDA_INJECTION64_PATH=/path/libkernel_trace.so KERNEL_TRACE_OUT=trace.tsv PROGRAM ARGS...
//
// The CUDA driver loads it at initialization and calls InitializeInjection(), which turns on
// CUPTI's activity records for kernels, memcpys and memsets. At exit it writes one line per
// kernel name: name, launches, total nanoseconds (tab-separated), plus "[memcpy]" and "[memset]".
// It changes nothing in the program: it sees the same kernels whatever launched them (Kiln's
// plugins, cuDNN, cuBLAS). bench/kernel_trace/compare.py subtracts a short run's totals from a
// long one's to get the steady-state kernels of a training step (docs/benchmarks.md).
#include <cupti.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace {

struct Total {
  int64_t count = 0;
  uint64_t ns = 0;
};

std::mutex g_mutex;
std::map<std::string, Total>* g_totals = new std::map<std::string, Total>;  // never freed: used at exit
constexpr size_t kBufferBytes = 8 << 20;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = *buffer != nullptr ? kBufferBytes : 0;
  *max_records = 0;
}

void add(const std::string& name, uint64_t start, uint64_t end) {
  Total& t = (*g_totals)[name];
  ++t.count;
  t.ns += end > start ? end - start : 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* record = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
      switch (record->kind) {
        case CUPTI_ACTIVITY_KIND_KERNEL:
        case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
          auto* k = reinterpret_cast<CUpti_ActivityKernel10*>(record);
          add(k->name != nullptr ? k->name : "?", k->start, k->end);
          break;
        }
        case CUPTI_ACTIVITY_KIND_MEMCPY: {
          auto* m = reinterpret_cast<CUpti_ActivityMemcpy6*>(record);
          add("[memcpy]", m->start, m->end);
          break;
        }
        case CUPTI_ACTIVITY_KIND_MEMSET: {
          auto* m = reinterpret_cast<CUpti_ActivityMemset4*>(record);
          add("[memset]", m->start, m->end);
          break;
        }
        default:
          break;
      }
    }
  }
  std::free(buffer);
}

void write_totals() {
  cuptiActivityFlushAll(1);
  const char* path = std::getenv("KERNEL_TRACE_OUT");
  FILE* out = path != nullptr ? std::fopen(path, "w") : stderr;
  if (out == nullptr) {
    std::fprintf(stderr, "kernel_trace: cannot write %s\n", path);
    return;
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const auto& [name, t] : *g_totals)
    std::fprintf(out, "%s\t%lld\t%llu\n", name.c_str(), static_cast<long long>(t.count),
                 static_cast<unsigned long long>(t.ns));
  if (out != stderr) std::fclose(out);
}

}  // namespace

extern "C" int InitializeInjection(void) {
  if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET) != CUPTI_SUCCESS) {
    std::fprintf(stderr, "kernel_trace: could not enable CUPTI activity records\n");
    return 0;
  }
  std::atexit(write_totals);
  return 1;
}
