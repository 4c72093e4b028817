// kiln demo: a few tensor ops on every loaded backend, printed PyTorch-style and timed.
#include "commands.hpp"

#include <kiln/device.hpp>
#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/tensor.hpp>
#include <kiln/version.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace kiln::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string format_seconds(double s) {
  char buf[32];
  if (s < 1e-3)
    std::snprintf(buf, sizeof(buf), "%.1f us", s * 1e6);
  else if (s < 1)
    std::snprintf(buf, sizeof(buf), "%.2f ms", s * 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.2f s", s);
  return buf;
}

// Kernels may run asynchronously (cuda); reading one element back waits for the result, so the
// times below are "until the result is ready", not just the launch.
void wait_for(const Tensor& t) {
  if (t.numel() > 0) (void)t.reshape({-1})[0].item<double>();
}

// Runs `make`, waits for the result, prints "<label>  (<time>)" and the tensor.
Tensor step(const std::string& label, const std::function<Tensor()>& make) {
  auto start = Clock::now();
  Tensor t = make();
  wait_for(t);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::string padded = label + std::string(label.size() < 46 ? 46 - label.size() : 1, ' ');
  std::cout << padded << "(" << format_seconds(seconds) << ")\n" << t << "\n";
  return t;
}

// Times n x n @ n x n (best of three after a warm-up) and checks the result; false on a wrong value.
bool timed_matmul(const Device& device, int64_t n) {
  Tensor a = ones({n, n}, {.device = device});
  Tensor b = ones({n, n}, {.device = device});
  Tensor c = a.matmul(b);  // warm-up: first-use allocations, library handles, JIT
  wait_for(c);
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    auto start = Clock::now();
    c = a.matmul(b);
    wait_for(c);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::vector<float> values = c.to_vector<float>();
  bool ok = std::all_of(values.begin(), values.end(), [&](float v) { return v == static_cast<float>(n); });
  char gflops[32];
  std::snprintf(gflops, sizeof(gflops), "%.2f", 2.0 * static_cast<double>(n) * n * n / best / 1e9);
  std::cout << "matmul " << n << "x" << n << " @ " << n << "x" << n << " of ones: " << format_seconds(best) << " (best of 3), "
            << gflops << " GFLOP/s; every element == " << n << ": " << (ok ? "yes" : "NO (wrong result)") << "\n";
  return ok;
}

enum class Outcome { kDone, kSkipped, kWrong };

Outcome demo_on(const Device& device, int64_t n) {
  try {
    Tensor x = step("x = from_vector({0, 1, 2, 3, 4, 5}, {2, 3})", [&] {
      return from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3}, device);
    });
    Tensor y = step("y = full({2, 3}, 0.5)", [&] { return full({2, 3}, 0.5, {.device = device}); });
    step("x + y", [&] { return x + y; });
    step("x.matmul(y.t())", [&] { return x.matmul(y.t()); });
    step("(x * y).sum()", [&] { return (x * y).sum(); });
    return timed_matmul(device, n) ? Outcome::kDone : Outcome::kWrong;
  } catch (const Error& e) {
    std::cout << "stopped: " << e.what() << "\n";
    return Outcome::kSkipped;
  }
}

void declare(Options& o) {
  o.visible.add_options()("device,d", po::value<std::vector<std::string>>()->composing(),
                          "run on this device only (repeatable): ref, tbb:0, cuda:1, cpu (default: device 0 of every "
                          "loaded backend)")("size,n", po::value<int64_t>()->default_value(256),
                                             "size of the timed square matmul");
}

int run(const po::variables_map& args) {
  int64_t n = args["size"].as<int64_t>();
  if (n < 1 || n > 16384) throw UsageError("--size must be between 1 and 16384, got " + std::to_string(n));

  std::vector<Device> devices;
  if (args.count("device")) {
    for (const auto& spec : args["device"].as<std::vector<std::string>>()) devices.emplace_back(spec);
  } else {
    for (const auto& b : backends()) {
      if (b.devices.empty()) {
        std::cout << "(skipping backend '" << b.name << "': " << (b.status_note.empty() ? "no device" : b.status_note)
                  << ")\n";
        continue;
      }
      devices.emplace_back(b.name + ":0");
    }
  }
  KILN_CHECK(!devices.empty(), DeviceError,
             "no backend with a usable device is loaded, so there is nothing to run the demo on; see `kiln plugins`");

  std::string default_name;
  try {
    default_name = default_device().str();
  } catch (const DeviceError&) {
    default_name = "none (no host backend)";
  }
  std::cout << "Kiln " << KILN_VERSION_STRING << ": the same ops on " << devices.size()
            << " device(s); times include waiting for the result. Default device: " << default_name << "\n";
  int done = 0, wrong = 0;
  for (const Device& device : devices) {
    std::cout << "\n== " << device.str() << " ==\n";
    switch (demo_on(device, n)) {
      case Outcome::kDone: ++done; break;
      case Outcome::kWrong: ++wrong; break;
      case Outcome::kSkipped: break;
    }
  }
  KILN_CHECK(wrong == 0, BackendError, "the matmul check failed on ", wrong, " device(s) (see above)");
  KILN_CHECK(done > 0, BackendError, "the demo could not run to the end on any device (see above)");
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(demo, {.name = "demo",
                        .summary = "Create, add, multiply and print tensors on every loaded backend, with timings",
                        .usage = "kiln demo [--device <spec>]... [--size <n>]",
                        .description =
                            "For each backend's first device (or each --device), builds two small tensors, adds and\n"
                            "multiplies them, prints each result as PyTorch would, and times a square matmul of ones\n"
                            "whose every element it checks. A backend that lacks an op falls back to another host\n"
                            "backend; with none to fall back to, that device's demo stops with the reason.",
                        .declare = declare,
                        .run = run});

}  // namespace kiln::cli
