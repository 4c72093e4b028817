// The C API (kiln/kiln_c.h) over the C++ API. Every entry point runs its body inside guard(),
// which turns each exception into a kiln_result and the thread's last-error message: no
// exception crosses the C boundary.
#include <kiln/kiln_c.h>

#include <kiln/autograd.hpp>
#include <kiln/device.hpp>
#include <kiln/error.hpp>
#include <kiln/layer_plugin_host.hpp>
#include <kiln/nn/module.hpp>
#include <kiln/serialize.hpp>
#include <kiln/tensor.hpp>
#include <kiln/version.hpp>

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>
#include <set>
#include <string>
#include <vector>

struct kiln_model_s {
  kiln::nn::ModulePtr module;
  std::string path;
};

namespace {

std::string& last_error() {
  thread_local std::string message;
  return message;
}

kiln_result fail(kiln_result result, const std::string& message) {
  last_error() = message;
  return result;
}

// Runs fn; every exception becomes a result code plus message.
template <typename Fn>
kiln_result guard(const char* function, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const kiln::ShapeError& e) {
    return fail(KILN_RESULT_SHAPE_ERROR, std::string(function) + ": " + e.what());
  } catch (const kiln::DTypeError& e) {
    return fail(KILN_RESULT_SHAPE_ERROR, std::string(function) + ": " + e.what());
  } catch (const kiln::DataError& e) {
    return fail(KILN_RESULT_FILE_ERROR, std::string(function) + ": " + e.what());
  } catch (const kiln::DeviceError& e) {
    return fail(KILN_RESULT_BACKEND_ERROR, std::string(function) + ": " + e.what());
  } catch (const kiln::BackendError& e) {
    return fail(KILN_RESULT_BACKEND_ERROR, std::string(function) + ": " + e.what());
  } catch (const kiln::PluginError& e) {
    return fail(KILN_RESULT_BACKEND_ERROR, std::string(function) + ": " + e.what());
  } catch (const kiln::InternalError& e) {
    return fail(KILN_RESULT_INTERNAL_ERROR, std::string(function) + ": " + e.what());
  } catch (const kiln::Error& e) {
    // ValueError, IndexError: something about the arguments or the model's configuration
    return fail(KILN_RESULT_INVALID_ARGUMENT, std::string(function) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return fail(KILN_RESULT_OUT_OF_MEMORY, std::string(function) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(KILN_RESULT_INTERNAL_ERROR, std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(KILN_RESULT_INTERNAL_ERROR, std::string(function) + ": unknown exception");
  }
}

#define KILN_C_REQUIRE(cond, ...)                                                         \
  do {                                                                                    \
    if (!(cond)) return fail(KILN_RESULT_INVALID_ARGUMENT, kiln::detail::concat(__VA_ARGS__)); \
  } while (0)

kiln::Shape checked_shape(const char* function, const int64_t* dims, int ndim) {
  KILN_CHECK(ndim >= 0 && ndim <= KILN_C_MAX_DIMS, kiln::ValueError, function, ": ndim must be in [0, ",
             KILN_C_MAX_DIMS, "], got ", ndim);
  KILN_CHECK(ndim == 0 || dims != nullptr, kiln::ValueError, function, ": shape is NULL but ndim is ", ndim);
  kiln::Shape shape;
  for (int i = 0; i < ndim; ++i) {
    KILN_CHECK(dims[i] >= 0, kiln::ValueError, function, ": shape[", i, "] is ", dims[i], "; extents must be >= 0");
    shape.push_back(dims[i]);
  }
  return shape;
}

// The model's parameters' device, or the default device when it has none.
kiln::Device model_device(const kiln::nn::Module& m) {
  for (const auto& [name, p] : m.named_parameters()) return p.device();
  for (const auto& [name, b] : m.named_buffers()) return b.device();
  return kiln::default_device();
}

// Moves the model to the current default device when kiln_set_backend changed it.
void follow_default_device(kiln::nn::Module& m) {
  kiln::Device want = kiln::default_device();
  if (model_device(m) != want) m.to(want);
}

void write_shape(const kiln::Shape& shape, int64_t* out_shape, int* out_ndim) {
  KILN_ASSERT(shape.size() <= KILN_C_MAX_DIMS);
  for (int64_t i = 0; i < shape.size(); ++i) out_shape[i] = shape[i];
  *out_ndim = static_cast<int>(shape.size());
}

// The input shape the first shape-defining leaf layer implies; empty when it cannot tell.
std::vector<int64_t> implied_input_shape(kiln::nn::Module& root) {
  static const std::set<std::string> kShapePreserving = {"Identity", "ReLU", "GELU", "SiLU", "Sigmoid", "Tanh",
                                                         "LeakyReLU", "Dropout", "Softmax", "LogSoftmax"};
  for (auto& [name, module] : root.named_modules()) {
    if (!module->named_children().empty()) continue;  // containers: look at their leaves
    const std::string type = module->type_name();
    const kiln::nn::Config config = module->config();
    if (type == "Linear") return {-1, config.at("in_features").get<int64_t>()};
    if (type == "Conv2d") return {-1, config.at("in_channels").get<int64_t>(), -1, -1};
    if (type == "BatchNorm1d") return {-1, config.at("num_features").get<int64_t>()};
    if (type == "BatchNorm2d") return {-1, config.at("num_features").get<int64_t>(), -1, -1};
    if (kShapePreserving.count(type) == 0) return {};
  }
  return {};
}

}  // namespace

extern "C" {

const char* kiln_version(void) { return KILN_VERSION_STRING; }

void kiln_version_numbers(int* major, int* minor, int* patch) {
  if (major) *major = KILN_VERSION_MAJOR;
  if (minor) *minor = KILN_VERSION_MINOR;
  if (patch) *patch = KILN_VERSION_PATCH;
}

const char* kiln_last_error(void) { return last_error().c_str(); }

const char* kiln_result_name(kiln_result result) {
  switch (result) {
    case KILN_RESULT_OK: return "KILN_RESULT_OK";
    case KILN_RESULT_INVALID_ARGUMENT: return "KILN_RESULT_INVALID_ARGUMENT";
    case KILN_RESULT_FILE_ERROR: return "KILN_RESULT_FILE_ERROR";
    case KILN_RESULT_SHAPE_ERROR: return "KILN_RESULT_SHAPE_ERROR";
    case KILN_RESULT_BUFFER_TOO_SMALL: return "KILN_RESULT_BUFFER_TOO_SMALL";
    case KILN_RESULT_BACKEND_ERROR: return "KILN_RESULT_BACKEND_ERROR";
    case KILN_RESULT_UNKNOWN: return "KILN_RESULT_UNKNOWN";
    case KILN_RESULT_OUT_OF_MEMORY: return "KILN_RESULT_OUT_OF_MEMORY";
    case KILN_RESULT_INTERNAL_ERROR: return "KILN_RESULT_INTERNAL_ERROR";
  }
  return "KILN_RESULT_(unknown code)";
}

kiln_result kiln_set_backend(const char* device) {
  return guard("kiln_set_backend", [&] {
    KILN_C_REQUIRE(device != nullptr && *device, "kiln_set_backend: device is NULL or empty");
    kiln::set_default_device(kiln::Device(std::string(device)));
    return KILN_RESULT_OK;
  });
}

kiln_result kiln_get_backend(char* buf, size_t capacity) {
  return guard("kiln_get_backend", [&] {
    KILN_C_REQUIRE(buf != nullptr, "kiln_get_backend: buf is NULL");
    std::string name = kiln::default_device().str();
    if (name.size() + 1 > capacity)
      return fail(KILN_RESULT_BUFFER_TOO_SMALL, "kiln_get_backend: '" + name + "' needs " +
                                                    std::to_string(name.size() + 1) + " bytes, capacity is " +
                                                    std::to_string(capacity));
    std::memcpy(buf, name.c_str(), name.size() + 1);
    return KILN_RESULT_OK;
  });
}

kiln_result kiln_load_plugin(const char* path) {
  return guard("kiln_load_plugin", [&] {
    KILN_C_REQUIRE(path != nullptr && *path, "kiln_load_plugin: path is NULL or empty");
    const size_t before = kiln::layer_plugins().size();
    try {
      kiln::load_plugin(path);
    } catch (const kiln::PluginError&) {
      if (kiln::layer_plugins().size() == before + 1) return KILN_RESULT_OK;  // a layer plugin, now loaded
      throw;
    }
    return KILN_RESULT_OK;
  });
}

kiln_result kiln_model_load(const char* path, kiln_model_t* out) {
  if (out != nullptr) *out = nullptr;
  return guard("kiln_model_load", [&] {
    KILN_C_REQUIRE(out != nullptr, "kiln_model_load: out is NULL");
    KILN_C_REQUIRE(path != nullptr && *path, "kiln_model_load: path is NULL or empty");
    auto model = std::make_unique<kiln_model_s>();
    model->module = kiln::load(path);
    model->module->eval();
    model->path = path;
    *out = model.release();
    return KILN_RESULT_OK;
  });
}

void kiln_model_free(kiln_model_t model) { delete model; }

kiln_result kiln_model_input_shape(kiln_model_t model, int64_t* shape, int capacity, int* ndim) {
  return guard("kiln_model_input_shape", [&] {
    KILN_C_REQUIRE(model != nullptr && shape != nullptr && ndim != nullptr,
                   "kiln_model_input_shape: model, shape and ndim must not be NULL");
    std::vector<int64_t> dims = implied_input_shape(*model->module);
    if (dims.empty())
      return fail(KILN_RESULT_UNKNOWN, "kiln_model_input_shape: the first layer of " + model->path +
                                           " does not determine the input shape; pass a shape to "
                                           "kiln_model_output_shape or kiln_model_run");
    if (static_cast<int>(dims.size()) > capacity)
      return fail(KILN_RESULT_BUFFER_TOO_SMALL, "kiln_model_input_shape: the shape has " +
                                                    std::to_string(dims.size()) + " axes, capacity is " +
                                                    std::to_string(capacity));
    std::copy(dims.begin(), dims.end(), shape);
    *ndim = static_cast<int>(dims.size());
    return KILN_RESULT_OK;
  });
}

kiln_result kiln_model_output_shape(kiln_model_t model, const int64_t* input_shape, int input_ndim,
                                    int64_t* out_shape, int* out_ndim) {
  return guard("kiln_model_output_shape", [&] {
    KILN_C_REQUIRE(model != nullptr && out_shape != nullptr && out_ndim != nullptr,
                   "kiln_model_output_shape: model, out_shape and out_ndim must not be NULL");
    kiln::Shape shape = checked_shape("kiln_model_output_shape", input_shape, input_ndim);
    follow_default_device(*model->module);
    kiln::NoGradGuard no_grad;
    kiln::Tensor y = (*model->module)(kiln::zeros(shape, {.device = model_device(*model->module)}));
    write_shape(y.shape(), out_shape, out_ndim);
    return KILN_RESULT_OK;
  });
}

kiln_result kiln_model_run(kiln_model_t model, const float* input, const int64_t* shape, int ndim, float* output,
                           size_t output_capacity, int64_t* out_shape, int* out_ndim) {
  return guard("kiln_model_run", [&] {
    KILN_C_REQUIRE(model != nullptr && out_shape != nullptr && out_ndim != nullptr,
                   "kiln_model_run: model, out_shape and out_ndim must not be NULL");
    kiln::Shape in_shape = checked_shape("kiln_model_run", shape, ndim);
    const int64_t numel = in_shape.numel();
    KILN_C_REQUIRE(input != nullptr || numel == 0, "kiln_model_run: input is NULL but the shape ", in_shape,
                   " has ", numel, " elements");
    follow_default_device(*model->module);
    kiln::Device device = model_device(*model->module);
    std::vector<float> values(input, input + numel);
    kiln::Tensor x = kiln::from_vector(values, in_shape, device);
    for (const auto& p : model->module->parameters()) {
      if (kiln::is_floating(p.dtype()) && p.dtype() != x.dtype()) x = x.to(p.dtype());  // a float64 model
      break;
    }
    kiln::NoGradGuard no_grad;
    kiln::Tensor y = (*model->module)(x);
    write_shape(y.shape(), out_shape, out_ndim);
    const size_t needed = static_cast<size_t>(y.numel());
    if (needed > output_capacity)
      return fail(KILN_RESULT_BUFFER_TOO_SMALL, kiln::detail::concat("kiln_model_run: the output has shape ",
                                                                     y.shape(), " (", needed,
                                                                     " floats) but output_capacity is ",
                                                                     output_capacity));
    KILN_C_REQUIRE(output != nullptr || needed == 0, "kiln_model_run: output is NULL");
    std::vector<float> result = y.to_vector<float>();
    std::copy(result.begin(), result.end(), output);
    return KILN_RESULT_OK;
  });
}

int64_t kiln_model_num_parameters(kiln_model_t model) {
  if (model == nullptr) return -1;
  try {
    int64_t n = 0;
    for (const auto& p : model->module->parameters()) n += p.numel();
    return n;
  } catch (...) {
    return -1;
  }
}

kiln_result kiln_model_describe(kiln_model_t model, char* buf, size_t capacity, size_t* needed) {
  return guard("kiln_model_describe", [&] {
    KILN_C_REQUIRE(model != nullptr, "kiln_model_describe: model is NULL");
    std::string text = model->module->str();
    if (needed) *needed = text.size() + 1;
    if (buf == nullptr || text.size() + 1 > capacity)
      return fail(KILN_RESULT_BUFFER_TOO_SMALL, "kiln_model_describe: the description needs " +
                                                    std::to_string(text.size() + 1) + " bytes, capacity is " +
                                                    std::to_string(capacity));
    std::memcpy(buf, text.c_str(), text.size() + 1);
    return KILN_RESULT_OK;
  });
}

}  // extern "C"
