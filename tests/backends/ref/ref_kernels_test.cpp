// Kernel tests of the reference backend, through the C ABI only: dlopen() the plugin, call
// kiln_backend_init, launch ops on host vectors and compare against hand-computed values.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <kiln/plugin/kiln_backend.h>
#include <kiln/plugin/philox.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#ifndef KILN_REF_PLUGIN_PATH
#error "KILN_REF_PLUGIN_PATH must name the built kiln_backend_ref plugin"
#endif

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNaNF = std::numeric_limits<float>::quiet_NaN();

// ---- the plugin, loaded once ----
const kiln_backend_api* api() {
  static const kiln_backend_api* table = [] {
    void* lib = dlopen(KILN_REF_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      ADD_FAILURE() << "dlopen failed: " << dlerror();
      return static_cast<const kiln_backend_api*>(nullptr);
    }
    auto init = reinterpret_cast<kiln_backend_init_fn>(dlsym(lib, KILN_BACKEND_INIT_SYMBOL));
    if (init == nullptr) return static_cast<const kiln_backend_api*>(nullptr);
    static kiln_host_api host{sizeof(kiln_host_api), KILN_ABI_VERSION, "0.1.0", nullptr};
    const kiln_backend_api* out = nullptr;
    if (init(&host, KILN_ABI_VERSION, &out) != KILN_STATUS_OK)
      return static_cast<const kiln_backend_api*>(nullptr);
    return out;  // plugins are never unloaded
  }();
  return table;
}

kiln_stream_t stream() {
  static kiln_stream_t s = [] {
    kiln_device_t device = nullptr;
    kiln_stream_t st = nullptr;
    api()->device_get(api()->backend, 0, &device);
    api()->stream_create(device, &st);
    return st;
  }();
  return s;
}

std::string last_error() {
  return api()->last_error(api()->backend);
}

// ---- host tensors: the ref device is host memory, so descriptors point at vectors ----
template <class T>
constexpr int32_t dtype_of() {
  if constexpr (std::is_same_v<T, float>) return KILN_DTYPE_FLOAT32;
  if constexpr (std::is_same_v<T, double>) return KILN_DTYPE_FLOAT64;
  if constexpr (std::is_same_v<T, int32_t>) return KILN_DTYPE_INT32;
  if constexpr (std::is_same_v<T, int64_t>) return KILN_DTYPE_INT64;
  if constexpr (std::is_same_v<T, uint8_t>) return KILN_DTYPE_UINT8;
}

// Owns its storage; desc views it (contiguous unless a test edits strides/offset).
template <class T>
struct Tensor {
  std::vector<T> data;
  kiln_tensor_desc desc{};

  Tensor(std::vector<int64_t> shape, std::vector<T> values, int32_t dtype = dtype_of<T>())
      : data(std::move(values)) {
    desc.dtype = dtype;
    desc.ndim = static_cast<int32_t>(shape.size());
    int64_t stride = 1;
    for (int32_t d = desc.ndim - 1; d >= 0; --d) {
      desc.shape[d] = shape[d];
      desc.strides[d] = stride;
      stride *= shape[d];
    }
    if (data.empty()) data.resize(static_cast<size_t>(stride), T{});
    desc.data = data.data();
  }
  Tensor(const Tensor&) = delete;  // desc points into data
  Tensor& operator=(const Tensor&) = delete;
  // A zero-filled output of this shape.
  static Tensor zeros(std::vector<int64_t> shape, int32_t dtype = dtype_of<T>()) {
    return Tensor(shape, {}, dtype);
  }
};

kiln_status launch(kiln_op op, std::initializer_list<kiln_tensor_desc> inputs,
                   std::initializer_list<kiln_tensor_desc> outputs, const void* attrs = nullptr) {
  std::vector<kiln_tensor_desc> in(inputs), out(outputs);
  return api()->launch(stream(), op, in.data(), static_cast<int32_t>(in.size()), out.data(),
                       static_cast<int32_t>(out.size()), attrs);
}
#define EXPECT_LAUNCH_OK(...) ASSERT_EQ(launch(__VA_ARGS__), KILN_STATUS_OK) << last_error()

template <class T>
void expect_near_all(const std::vector<T>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(static_cast<double>(got[i]))) << "element " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(static_cast<double>(got[i]), want[i]) << "element " << i;
    } else {
      EXPECT_NEAR(static_cast<double>(got[i]), want[i], tol) << "element " << i;
    }
  }
}

kiln_reduce_attrs reduce_axes(std::initializer_list<int32_t> axes, double correction = 0) {
  kiln_reduce_attrs a{};
  for (int32_t axis : axes) a.axes[a.num_axes++] = axis;
  a.correction = correction;
  return a;
}

kiln_conv2d_attrs conv_attrs(int64_t stride, int64_t padding, int64_t dilation, int64_t groups);

// ---- the plugin table ----
TEST(RefBackend, ReportsItselfAndAllocates) {
  ASSERT_NE(api(), nullptr);
  EXPECT_STREQ(api()->name, "ref");
  EXPECT_STREQ(api()->version, "0.1.0");
  EXPECT_EQ(api()->priority, 10);
  EXPECT_EQ(api()->abi_version, KILN_ABI_VERSION);
  EXPECT_EQ(api()->device_count(api()->backend), 1);
  kiln_device_t device = nullptr;
  ASSERT_EQ(api()->device_get(api()->backend, 0, &device), KILN_STATUS_OK);
  kiln_device_props props{};
  ASSERT_EQ(api()->device_props(device, &props), KILN_STATUS_OK);
  EXPECT_EQ(props.host_accessible, 1);
  kiln_buffer_t buffer = nullptr;
  ASSERT_EQ(api()->buffer_alloc(device, 0, &buffer), KILN_STATUS_OK);
  EXPECT_NE(api()->buffer_data(buffer), nullptr);
  api()->buffer_free(buffer);
}

TEST(RefBackend, SupportsMatchesTheDtypeRules) {
  auto supports = [](kiln_op op, std::initializer_list<int32_t> dtypes) {
    std::vector<int32_t> t(dtypes);
    return api()->supports(api()->backend, op, t.data(), static_cast<int32_t>(t.size()), nullptr) == 1;
  };
  const int32_t f32 = KILN_DTYPE_FLOAT32, f64 = KILN_DTYPE_FLOAT64, i32 = KILN_DTYPE_INT32,
                i64 = KILN_DTYPE_INT64, u8 = KILN_DTYPE_UINT8, b = KILN_DTYPE_BOOL;
  EXPECT_TRUE(supports(KILN_OP_EXP, {f32, f32}));
  EXPECT_TRUE(supports(KILN_OP_EXP, {f64, f64}));
  EXPECT_FALSE(supports(KILN_OP_EXP, {i32, i32}));
  EXPECT_FALSE(supports(KILN_OP_EXP, {f32, f64}));  // inconsistent
  EXPECT_FALSE(supports(KILN_OP_EXP, {f32}));       // wrong arity
  EXPECT_FALSE(supports(KILN_OP_EXP, {f32, 17}));   // not a dtype
  EXPECT_TRUE(supports(KILN_OP_DIV, {u8, u8, u8}));
  EXPECT_FALSE(supports(KILN_OP_ADD, {b, b, b}));
  EXPECT_TRUE(supports(KILN_OP_MAXIMUM, {b, b, b}));
  EXPECT_TRUE(supports(KILN_OP_LT, {i64, i64, b}));
  EXPECT_FALSE(supports(KILN_OP_LT, {i64, i64, i64}));
  EXPECT_TRUE(supports(KILN_OP_LOGICAL_NOT, {f32, b}));
  EXPECT_TRUE(supports(KILN_OP_WHERE, {b, i32, i32, i32}));
  EXPECT_FALSE(supports(KILN_OP_WHERE, {u8, i32, i32, i32}));
  EXPECT_FALSE(supports(KILN_OP_POW_SCALAR, {i32, i32}));
  EXPECT_TRUE(supports(KILN_OP_ARGMAX, {i32, i64}));
  EXPECT_FALSE(supports(KILN_OP_MEAN, {i32, i32}));
  EXPECT_TRUE(supports(KILN_OP_MAXPOOL2D, {f32, f32, i64}));
  EXPECT_TRUE(supports(KILN_OP_GATHER, {b, i64, b}));
  EXPECT_FALSE(supports(KILN_OP_GATHER, {f32, i32, f32}));
  EXPECT_TRUE(supports(KILN_OP_CAST, {b, f64}));
  EXPECT_TRUE(supports(KILN_OP_FILL, {b}));
  EXPECT_TRUE(supports(KILN_OP_UNIFORM, {i64}));
  EXPECT_FALSE(supports(KILN_OP_NORMAL, {i64}));
  EXPECT_TRUE(supports(KILN_OP_BERNOULLI, {b}));
  EXPECT_FALSE(supports(KILN_OP_COUNT, {f32}));

  // launch() refuses exactly what supports() refuses, with a message naming the op.
  Tensor<int32_t> x({2}, {1, 2}), y = Tensor<int32_t>::zeros({2});
  EXPECT_EQ(launch(KILN_OP_EXP, {x.desc}, {y.desc}), KILN_STATUS_UNSUPPORTED);
  EXPECT_NE(last_error().find("exp"), std::string::npos) << last_error();
}

// One line per group of ops reads better than one line per op.
// clang-format off
// Shapes of a valid call of `op`, inputs then outputs.
std::vector<std::vector<int64_t>> valid_shapes(kiln_op op) {
  switch (op) {
    case KILN_OP_SUM: case KILN_OP_MEAN: case KILN_OP_PROD: case KILN_OP_MAX: case KILN_OP_MIN:
    case KILN_OP_LOGSUMEXP: case KILN_OP_VAR: case KILN_OP_ARGMAX: case KILN_OP_ARGMIN:
      return {{2, 3}, {2, 1}};
    case KILN_OP_MATMUL: return {{1, 2, 3}, {1, 3, 2}, {1, 2, 2}};
    case KILN_OP_CONV2D: return {{1, 2, 4, 4}, {2, 2, 3, 3}, {1, 2, 2, 2}};
    case KILN_OP_CONV2D_BACKWARD_INPUT: return {{1, 2, 2, 2}, {2, 2, 3, 3}, {1, 2, 4, 4}};
    case KILN_OP_CONV2D_BACKWARD_WEIGHT: return {{1, 2, 2, 2}, {1, 2, 4, 4}, {2, 2, 3, 3}};
    case KILN_OP_MAXPOOL2D: return {{1, 1, 4, 4}, {1, 1, 2, 2}, {1, 1, 2, 2}};
    case KILN_OP_MAXPOOL2D_BACKWARD: return {{1, 1, 2, 2}, {1, 1, 2, 2}, {1, 1, 4, 4}};
    case KILN_OP_AVGPOOL2D: return {{1, 1, 4, 4}, {1, 1, 2, 2}};
    case KILN_OP_AVGPOOL2D_BACKWARD: return {{1, 1, 2, 2}, {1, 1, 4, 4}};
    case KILN_OP_GATHER: return {{2, 3}, {2, 2}, {2, 2}};
    case KILN_OP_SCATTER_ADD: return {{2, 3}, {2, 2}, {2, 2}, {2, 3}};
    case KILN_OP_INDEX_SELECT: return {{2, 3}, {2}, {2, 2}};  // along axis 1
    case KILN_OP_EMBEDDING: return {{3, 2}, {2}, {2, 2}};
    case KILN_OP_EMBEDDING_BACKWARD: return {{2, 2}, {2}, {3, 2}};
    case KILN_OP_FILL: case KILN_OP_UNIFORM: case KILN_OP_NORMAL: case KILN_OP_BERNOULLI: return {{2, 3}};
    case KILN_OP_WHERE: return {{2, 3}, {2, 3}, {2, 3}, {2, 3}};
    case KILN_OP_NEG: case KILN_OP_ABS: case KILN_OP_SIGN: case KILN_OP_EXP: case KILN_OP_LOG: case KILN_OP_SQRT:
    case KILN_OP_RSQRT: case KILN_OP_SIN: case KILN_OP_COS: case KILN_OP_FLOOR: case KILN_OP_RELU:
    case KILN_OP_SIGMOID: case KILN_OP_TANH: case KILN_OP_GELU: case KILN_OP_ERF: case KILN_OP_LOGICAL_NOT:
    case KILN_OP_ADD_SCALAR: case KILN_OP_MUL_SCALAR: case KILN_OP_POW_SCALAR: case KILN_OP_CLAMP:
    case KILN_OP_LEAKY_RELU: case KILN_OP_CAST: case KILN_OP_COPY: case KILN_OP_SOFTMAX: case KILN_OP_LOG_SOFTMAX:
      return {{2, 3}, {2, 3}};
    default: return {{2, 3}, {2, 3}, {2, 3}};  // binary, compare, softmax backward
  }
}

// Attributes valid for every op (each launch reads only the struct its op names).
struct AnyAttrs {
  kiln_scalar_attrs scalar{0.5, 2.0};
  kiln_reduce_attrs reduce = reduce_axes({1});
  kiln_conv2d_attrs conv{{1, 1}, {0, 0}, {1, 1}, 1};
  kiln_pool2d_attrs pool{{2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, 1};
  kiln_axis_attrs axis{1};
  kiln_embedding_attrs embedding{-1};
  kiln_random_attrs random{1, 0, 0.0, 1.0};
  const void* for_op(kiln_op op) const {
    switch (op) {
      case KILN_OP_SUM: case KILN_OP_MEAN: case KILN_OP_PROD: case KILN_OP_MAX: case KILN_OP_MIN:
      case KILN_OP_LOGSUMEXP: case KILN_OP_VAR: case KILN_OP_ARGMAX: case KILN_OP_ARGMIN: return &reduce;
      case KILN_OP_CONV2D: case KILN_OP_CONV2D_BACKWARD_INPUT: case KILN_OP_CONV2D_BACKWARD_WEIGHT: return &conv;
      case KILN_OP_MAXPOOL2D: case KILN_OP_MAXPOOL2D_BACKWARD: case KILN_OP_AVGPOOL2D:
      case KILN_OP_AVGPOOL2D_BACKWARD: return &pool;
      case KILN_OP_SOFTMAX: case KILN_OP_LOG_SOFTMAX: case KILN_OP_SOFTMAX_BACKWARD:
      case KILN_OP_LOG_SOFTMAX_BACKWARD: case KILN_OP_GATHER: case KILN_OP_SCATTER_ADD:
      case KILN_OP_INDEX_SELECT: return &axis;
      case KILN_OP_EMBEDDING: case KILN_OP_EMBEDDING_BACKWARD: return &embedding;
      case KILN_OP_UNIFORM: case KILN_OP_NORMAL: case KILN_OP_BERNOULLI: return &random;
      case KILN_OP_ADD_SCALAR: case KILN_OP_MUL_SCALAR: case KILN_OP_POW_SCALAR: case KILN_OP_CLAMP:
      case KILN_OP_LEAKY_RELU: case KILN_OP_FILL: return &scalar;
      default: return nullptr;
    }
  }
};

// clang-format on

TEST(RefBackend, EveryOpRunsExactlyWhatSupportsClaims) {
  const AnyAttrs attrs;
  int supported = 0;
  for (int32_t o = 0; o < KILN_OP_COUNT; ++o) {
    const auto op = static_cast<kiln_op>(o);
    const auto shapes = valid_shapes(op);
    const size_t arity = shapes.size();
    const size_t num_outputs = op == KILN_OP_MAXPOOL2D ? 2 : 1;
    size_t combos = 1;
    for (size_t k = 0; k < arity; ++k) combos *= KILN_DTYPE_COUNT;
    for (size_t combo = 0; combo < combos; ++combo) {
      std::vector<int32_t> dtypes(arity);
      for (size_t k = 0, c = combo; k < arity; ++k, c /= KILN_DTYPE_COUNT)
        dtypes[k] = static_cast<int32_t>(c % KILN_DTYPE_COUNT);
      // Zero-filled storage (valid indices, no division trouble), 8 bytes per element.
      std::vector<std::vector<double>> storage;
      std::vector<kiln_tensor_desc> descs;
      for (size_t k = 0; k < arity; ++k) {
        Tensor<double> t = Tensor<double>::zeros(shapes[k]);
        kiln_tensor_desc d = t.desc;
        storage.push_back(std::move(t.data));
        d.data = storage.back().data();
        d.dtype = dtypes[k];
        descs.push_back(d);
      }
      for (size_t k = 0; k < arity; ++k) descs[k].data = storage[k].data();  // after reallocation
      const size_t num_inputs = arity - num_outputs;
      const bool claims = api()->supports(api()->backend, op, dtypes.data(), static_cast<int32_t>(arity),
                                          attrs.for_op(op)) == 1;
      const kiln_status status =
          api()->launch(stream(), op, descs.data(), static_cast<int32_t>(num_inputs),
                        descs.data() + num_inputs, static_cast<int32_t>(num_outputs), attrs.for_op(op));
      EXPECT_EQ(status, claims ? KILN_STATUS_OK : KILN_STATUS_UNSUPPORTED)
          << "op " << o << " combo " << combo << ": " << last_error();
      supported += claims;
    }
  }
  EXPECT_GT(supported, 200);
}

TEST(RefBackend, EmptyTensorsRunAndWriteTheNeutralResult) {
  // matmul with K = 0 writes zeros.
  Tensor<float> a = Tensor<float>::zeros({1, 2, 0}), b = Tensor<float>::zeros({1, 0, 2});
  Tensor<float> ab({1, 2, 2}, {9, 9, 9, 9});
  EXPECT_LAUNCH_OK(KILN_OP_MATMUL, {a.desc, b.desc}, {ab.desc});
  expect_near_all(ab.data, {0, 0, 0, 0}, 0);
  // conv and pools with batch 0; softmax with no rows; max over a non-empty axis of an empty tensor.
  const kiln_conv2d_attrs conv = conv_attrs(1, 0, 1, 1);
  Tensor<double> x = Tensor<double>::zeros({0, 2, 4, 4}), w = Tensor<double>::zeros({3, 2, 3, 3});
  Tensor<double> y = Tensor<double>::zeros({0, 3, 2, 2});
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D, {x.desc, w.desc}, {y.desc}, &conv);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D_BACKWARD_INPUT, {y.desc, w.desc}, {x.desc}, &conv);
  Tensor<double> dw({3, 2, 3, 3}, std::vector<double>(54, 7.0));
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D_BACKWARD_WEIGHT, {y.desc, x.desc}, {dw.desc}, &conv);
  EXPECT_EQ(dw.data, std::vector<double>(54, 0.0));
  kiln_pool2d_attrs pool{};
  for (int i = 0; i < 2; ++i) pool.kernel[i] = 2, pool.stride[i] = 2, pool.dilation[i] = 1;
  Tensor<double> p = Tensor<double>::zeros({0, 2, 2, 2});
  Tensor<int64_t> pi = Tensor<int64_t>::zeros({0, 2, 2, 2});
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D, {x.desc}, {p.desc, pi.desc}, &pool);
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D_BACKWARD, {p.desc, pi.desc}, {x.desc}, &pool);
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D_BACKWARD, {p.desc}, {x.desc}, &pool);
  Tensor<float> rows = Tensor<float>::zeros({0, 3}), rows_out = Tensor<float>::zeros({0, 3});
  const kiln_axis_attrs axis{1};
  EXPECT_LAUNCH_OK(KILN_OP_SOFTMAX, {rows.desc}, {rows_out.desc}, &axis);
  Tensor<float> none = Tensor<float>::zeros({0, 1});
  const kiln_reduce_attrs across = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_MAX, {rows.desc}, {none.desc}, &across);
  // embedding_backward with no indices zeroes dW.
  Tensor<float> dy = Tensor<float>::zeros({0, 2}), dW({3, 2}, {1, 1, 1, 1, 1, 1});
  Tensor<int64_t> idx = Tensor<int64_t>::zeros({0});
  const kiln_embedding_attrs emb{-1};
  EXPECT_LAUNCH_OK(KILN_OP_EMBEDDING_BACKWARD, {dy.desc, idx.desc}, {dW.desc}, &emb);
  expect_near_all(dW.data, {0, 0, 0, 0, 0, 0}, 0);
  const kiln_random_attrs rnd{1, 0, 0, 1};
  EXPECT_LAUNCH_OK(KILN_OP_NORMAL, {}, {rows_out.desc}, &rnd);
}

TEST(RefBackend, RejectsMalformedDescriptorsAndAttributes) {
  Tensor<float> x({2, 2}, {1, 2, 3, 4}), y = Tensor<float>::zeros({2, 2});
  kiln_tensor_desc bad = x.desc;
  bad.ndim = KILN_MAX_DIMS + 1;
  EXPECT_EQ(launch(KILN_OP_NEG, {bad}, {y.desc}), KILN_STATUS_INVALID_ARGUMENT);
  bad = x.desc;
  bad.shape[0] = -1;
  EXPECT_EQ(launch(KILN_OP_NEG, {bad}, {y.desc}), KILN_STATUS_INVALID_ARGUMENT);
  bad = x.desc;
  bad.strides[0] = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(launch(KILN_OP_NEG, {bad}, {y.desc}), KILN_STATUS_INVALID_ARGUMENT);
  Tensor<float> wrong = Tensor<float>::zeros({4});
  EXPECT_EQ(launch(KILN_OP_NEG, {x.desc}, {wrong.desc}), KILN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("neg"), std::string::npos) << last_error();
  EXPECT_EQ(launch(KILN_OP_ADD_SCALAR, {x.desc}, {y.desc}, nullptr), KILN_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(launch(KILN_OP_NEG, {x.desc, x.desc}, {y.desc}), KILN_STATUS_INVALID_ARGUMENT);
  const kiln_reduce_attrs repeated = reduce_axes({1, 1});
  Tensor<float> r = Tensor<float>::zeros({2, 1});
  EXPECT_EQ(launch(KILN_OP_SUM, {x.desc}, {r.desc}, &repeated), KILN_STATUS_INVALID_ARGUMENT);
  const kiln_conv2d_attrs zero_stride{{0, 0}, {0, 0}, {1, 1}, 1};
  Tensor<float> img = Tensor<float>::zeros({1, 1, 2, 2}), k = Tensor<float>::zeros({1, 1, 1, 1});
  EXPECT_EQ(launch(KILN_OP_CONV2D, {img.desc, k.desc}, {img.desc}, &zero_stride),
            KILN_STATUS_INVALID_ARGUMENT);
}

// ---- pointwise ----
TEST(RefPointwise, FloatUnaryMatchesLibm) {
  const std::vector<float> in = {-2.5f, -0.5f, 0.0f, 0.75f, 3.0f};
  struct Case {
    kiln_op op;
    double (*f)(double);
  };
  const Case cases[] = {
      {KILN_OP_NEG, [](double x) { return -x; }},
      {KILN_OP_ABS, [](double x) { return std::fabs(x); }},
      {KILN_OP_SIGN, [](double x) { return x > 0   ? 1.0
                                           : x < 0 ? -1.0
                                                   : 0.0; }},
      {KILN_OP_EXP, [](double x) { return std::exp(x); }},
      {KILN_OP_SIN, [](double x) { return std::sin(x); }},
      {KILN_OP_COS, [](double x) { return std::cos(x); }},
      {KILN_OP_FLOOR, [](double x) { return std::floor(x); }},
      {KILN_OP_RELU, [](double x) { return x > 0 ? x : 0.0; }},
      {KILN_OP_SIGMOID, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {KILN_OP_TANH, [](double x) { return std::tanh(x); }},
      {KILN_OP_ERF, [](double x) { return std::erf(x); }},
      {KILN_OP_GELU, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
  };
  for (const Case& c : cases) {
    Tensor<float> x({5}, in), y = Tensor<float>::zeros({5});
    EXPECT_LAUNCH_OK(c.op, {x.desc}, {y.desc});
    for (size_t i = 0; i < in.size(); ++i) EXPECT_FLOAT_EQ(y.data[i], static_cast<float>(c.f(in[i]))) << c.op;
  }
  Tensor<double> x({4}, {4.0, 0.25, 0.0, -1.0}), y = Tensor<double>::zeros({4});
  EXPECT_LAUNCH_OK(KILN_OP_SQRT, {x.desc}, {y.desc});
  expect_near_all(y.data, {2.0, 0.5, 0.0, kNaN}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_RSQRT, {x.desc}, {y.desc});
  expect_near_all(y.data, {0.5, 2.0, kInf, kNaN}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_LOG, {x.desc}, {y.desc});
  expect_near_all(y.data, {std::log(4.0), std::log(0.25), -kInf, kNaN}, 0);
}

TEST(RefPointwise, AddReadsTransposedAndBroadcastInputs) {
  // a is the transpose of a 3x2 storage (strides {1, 2}) with element offset 1; b is a row
  // broadcast over 2 rows (stride 0).
  Tensor<float> a({7}, {-1, 1, 2, 3, 4, 5, 6}), b({3}, {10, 20, 30}), out = Tensor<float>::zeros({2, 3});
  kiln_tensor_desc at = a.desc;
  at.ndim = 2, at.offset = 1, at.shape[0] = 2, at.shape[1] = 3, at.strides[0] = 1, at.strides[1] = 2;
  kiln_tensor_desc bt = b.desc;
  bt.ndim = 2, bt.shape[0] = 2, bt.shape[1] = 3, bt.strides[0] = 0, bt.strides[1] = 1;
  EXPECT_LAUNCH_OK(KILN_OP_ADD, {at, bt}, {out.desc});
  // a^T = [[1, 3, 5], [2, 4, 6]]
  expect_near_all(out.data, {11, 23, 35, 12, 24, 36}, 0);
}

TEST(RefPointwise, ScalarsAndEmptyTensors) {
  Tensor<double> s({}, {2.5}), t({}, {4.0}), out = Tensor<double>::zeros({});
  EXPECT_LAUNCH_OK(KILN_OP_MUL, {s.desc, t.desc}, {out.desc});
  EXPECT_EQ(out.data[0], 10.0);
  Tensor<float> e = Tensor<float>::zeros({0, 3}), eo = Tensor<float>::zeros({0, 3});
  e.desc.data = nullptr, eo.desc.data = nullptr;  // nothing may be touched
  EXPECT_LAUNCH_OK(KILN_OP_ADD, {e.desc, e.desc}, {eo.desc});
  EXPECT_LAUNCH_OK(KILN_OP_EXP, {e.desc}, {eo.desc});
}

TEST(RefPointwise, IntegerArithmeticTruncatesAndWraps) {
  const int32_t min = std::numeric_limits<int32_t>::min(), max = std::numeric_limits<int32_t>::max();
  Tensor<int32_t> a({7}, {7, -7, 7, -7, 5, min, max}), b({7}, {2, 2, -2, -2, 0, -1, 1});
  Tensor<int32_t> out = Tensor<int32_t>::zeros({7});
  EXPECT_LAUNCH_OK(KILN_OP_DIV, {a.desc, b.desc}, {out.desc});
  EXPECT_EQ(out.data, (std::vector<int32_t>{3, -3, -3, 3, 0, min, max}));
  EXPECT_LAUNCH_OK(KILN_OP_ADD, {a.desc, b.desc}, {out.desc});
  EXPECT_EQ(out.data[6], min);  // wraps, no signed overflow
  EXPECT_LAUNCH_OK(KILN_OP_NEG, {a.desc}, {out.desc});
  EXPECT_EQ(out.data[5], min);
  EXPECT_LAUNCH_OK(KILN_OP_SIGN, {a.desc}, {out.desc});
  EXPECT_EQ(out.data, (std::vector<int32_t>{1, -1, 1, -1, 1, -1, 1}));

  Tensor<uint8_t> u({3}, {1, 200, 9}), v({3}, {2, 100, 0}), uo = Tensor<uint8_t>::zeros({3});
  EXPECT_LAUNCH_OK(KILN_OP_SUB, {u.desc, v.desc}, {uo.desc});
  EXPECT_EQ(uo.data, (std::vector<uint8_t>{255, 100, 9}));
  EXPECT_LAUNCH_OK(KILN_OP_DIV, {u.desc, v.desc}, {uo.desc});
  EXPECT_EQ(uo.data, (std::vector<uint8_t>{0, 2, 0}));

  Tensor<int64_t> c({4}, {-5, 0, 5, 12}), co = Tensor<int64_t>::zeros({4});
  kiln_scalar_attrs clamp{-kInf, 6.9};  // no lower bound; 6.9 converts to 6
  EXPECT_LAUNCH_OK(KILN_OP_CLAMP, {c.desc}, {co.desc}, &clamp);
  EXPECT_EQ(co.data, (std::vector<int64_t>{-5, 0, 5, 6}));
  kiln_scalar_attrs three{3.7, 0};
  EXPECT_LAUNCH_OK(KILN_OP_MUL_SCALAR, {c.desc}, {co.desc}, &three);
  EXPECT_EQ(co.data, (std::vector<int64_t>{-15, 0, 15, 36}));
}

TEST(RefPointwise, FloatScalarOpsAndNaN) {
  Tensor<float> x({5}, {-2, -0.5f, 0.5f, 3, kNaNF}), y = Tensor<float>::zeros({5});
  kiln_scalar_attrs clamp{-1, kInf};  // no upper bound
  EXPECT_LAUNCH_OK(KILN_OP_CLAMP, {x.desc}, {y.desc}, &clamp);
  expect_near_all(y.data, {-1, -0.5, 0.5, 3, kNaN}, 0);
  kiln_scalar_attrs slope{0.1, 0};
  EXPECT_LAUNCH_OK(KILN_OP_LEAKY_RELU, {x.desc}, {y.desc}, &slope);
  expect_near_all(y.data, {-0.2, -0.05, 0.5, 3, kNaN}, 1e-7);
  kiln_scalar_attrs square{2, 0};
  EXPECT_LAUNCH_OK(KILN_OP_POW_SCALAR, {x.desc}, {y.desc}, &square);
  expect_near_all(y.data, {4, 0.25, 0.25, 9, kNaN}, 0);

  Tensor<float> a({3}, {1, kNaNF, -3}), b({3}, {2, 0, kNaNF}), m = Tensor<float>::zeros({3});
  EXPECT_LAUNCH_OK(KILN_OP_MAXIMUM, {a.desc, b.desc}, {m.desc});
  expect_near_all(m.data, {2, kNaN, kNaN}, 0);
  Tensor<uint8_t> lt = Tensor<uint8_t>::zeros({3}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_LT, {a.desc, b.desc}, {lt.desc});
  EXPECT_EQ(lt.data, (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_LAUNCH_OK(KILN_OP_NE, {a.desc, b.desc}, {lt.desc});
  EXPECT_EQ(lt.data, (std::vector<uint8_t>{1, 1, 1}));
}

TEST(RefPointwise, BoolLogicAndWhere) {
  Tensor<uint8_t> p({4}, {0, 0, 1, 1}, KILN_DTYPE_BOOL), q({4}, {0, 1, 0, 1}, KILN_DTYPE_BOOL);
  Tensor<uint8_t> r = Tensor<uint8_t>::zeros({4}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_MAXIMUM, {p.desc, q.desc}, {r.desc});
  EXPECT_EQ(r.data, (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_LAUNCH_OK(KILN_OP_MINIMUM, {p.desc, q.desc}, {r.desc});
  EXPECT_EQ(r.data, (std::vector<uint8_t>{0, 0, 0, 1}));
  Tensor<double> d({4}, {0.0, -0.0, kNaN, 2});
  EXPECT_LAUNCH_OK(KILN_OP_LOGICAL_NOT, {d.desc}, {r.desc});
  EXPECT_EQ(r.data, (std::vector<uint8_t>{1, 1, 0, 0}));
  Tensor<int64_t> a({4}, {1, 2, 3, 4}), b({4}, {-1, -2, -3, -4}), w = Tensor<int64_t>::zeros({4});
  EXPECT_LAUNCH_OK(KILN_OP_WHERE, {p.desc, a.desc, b.desc}, {w.desc});
  EXPECT_EQ(w.data, (std::vector<int64_t>{-1, -2, 3, 4}));
}

TEST(RefPointwise, GeluBackwardIsTheDerivativeOfGelu) {
  const std::vector<double> xs = {-3, -1, -0.2, 0, 0.7, 2.5};
  Tensor<double> dy({6}, std::vector<double>(6, 2.0)), x({6}, xs), dx = Tensor<double>::zeros({6});
  EXPECT_LAUNCH_OK(KILN_OP_GELU_BACKWARD, {dy.desc, x.desc}, {dx.desc});
  const double h = 1e-6;
  for (size_t i = 0; i < xs.size(); ++i) {
    Tensor<double> xp({2}, {xs[i] + h, xs[i] - h}), yp = Tensor<double>::zeros({2});
    EXPECT_LAUNCH_OK(KILN_OP_GELU, {xp.desc}, {yp.desc});
    EXPECT_NEAR(dx.data[i], 2.0 * (yp.data[0] - yp.data[1]) / (2 * h), 1e-6) << xs[i];
  }
}

// ---- reductions ----
TEST(RefReduce, OverTwoAxesWithKeepdim) {
  // x[i][j][k] = 6i + 2j + k, shape [2, 3, 2]; reduce axes 0 and 2 -> [1, 3, 1].
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  Tensor<float> x({2, 3, 2}, v), out = Tensor<float>::zeros({1, 3, 1});
  const kiln_reduce_attrs axes = reduce_axes({0, 2});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MEAN, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {3.5, 5.5, 7.5}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_PROD, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {0, 2 * 3 * 8 * 9, 4 * 5 * 10 * 11}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MAX, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {7, 9, 11}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MIN, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {0, 2, 4}, 0);
  // {0, 1, 6, 7}: mean 3.5, squared deviations 12.25 + 6.25 + 6.25 + 12.25 = 37
  const kiln_reduce_attrs unbiased = reduce_axes({0, 2}, 1.0);
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {x.desc}, {out.desc}, &unbiased);
  expect_near_all(out.data, {37.0 / 3, 37.0 / 3, 37.0 / 3}, 1e-5);
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {37.0 / 4, 37.0 / 4, 37.0 / 4}, 1e-6);

  Tensor<int32_t> xi({2, 2}, {std::numeric_limits<int32_t>::max(), 1, 5, -7}),
      oi = Tensor<int32_t>::zeros({2, 1});
  const kiln_reduce_attrs last = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {xi.desc}, {oi.desc}, &last);
  EXPECT_EQ(oi.data, (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -2}));
}

TEST(RefReduce, Float32SumAccumulatesInDouble) {
  // 1 + 2^-24 * (2^20 times) is 1.0625 exactly; a float accumulator would stay at 1.
  std::vector<float> v(1 + (1 << 20), std::ldexp(1.0f, -24));
  v[0] = 1.0f;
  Tensor<float> x({static_cast<int64_t>(v.size())}, v), out = Tensor<float>::zeros({1});
  const kiln_reduce_attrs axes = reduce_axes({0});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {x.desc}, {out.desc}, &axes);
  EXPECT_EQ(out.data[0], 1.0625f);
}

TEST(RefReduce, NaNInfinityAndLogsumexp) {
  Tensor<double> x({3, 3}, {1, kNaN, 3, 1000, 1000, -kInf, -kInf, -kInf, -kInf}),
      out = Tensor<double>::zeros({3, 1});
  const kiln_reduce_attrs rows = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_MAX, {x.desc}, {out.desc}, &rows);
  expect_near_all(out.data, {kNaN, 1000, -kInf}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_LOGSUMEXP, {x.desc}, {out.desc}, &rows);
  expect_near_all(out.data, {kNaN, 1000 + std::log(2.0), -kInf}, 1e-12);
  const kiln_reduce_attrs one_sample = reduce_axes({1}, 3.0);  // n - correction = 0
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {x.desc}, {out.desc}, &one_sample);
  EXPECT_TRUE(std::isnan(out.data[0]));
  // n - correction <= 0 divides by zero like PyTorch: inf for a spread, NaN for no spread.
  Tensor<double> v({2, 2}, {1, 2, 3, 3}), vo = Tensor<double>::zeros({2, 1});
  const kiln_reduce_attrs two = reduce_axes({1}, 2.0);
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {v.desc}, {vo.desc}, &two);
  expect_near_all(vo.data, {kInf, kNaN}, 0);
}

TEST(RefReduce, EmptyReductions) {
  Tensor<float> x = Tensor<float>::zeros({2, 0}), out = Tensor<float>::zeros({2, 1});
  const kiln_reduce_attrs axes = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {0, 0}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_PROD, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {1, 1}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MEAN, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {kNaN, kNaN}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {kNaN, kNaN}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_LOGSUMEXP, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {-kInf, -kInf}, 0);
  for (kiln_op op : {KILN_OP_MAX, KILN_OP_MIN}) {
    EXPECT_EQ(launch(op, {x.desc}, {out.desc}, &axes), KILN_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find(op == KILN_OP_MAX ? "max" : "min"), std::string::npos) << last_error();
    EXPECT_NE(last_error().find("empty"), std::string::npos) << last_error();
  }
  Tensor<int64_t> idx = Tensor<int64_t>::zeros({2, 1});
  EXPECT_EQ(launch(KILN_OP_ARGMAX, {x.desc}, {idx.desc}, &axes), KILN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("argmax"), std::string::npos) << last_error();
}

TEST(RefReduce, ArgmaxFirstOccurrenceAndNaN) {
  Tensor<float> x({3, 4}, {1, 5, 5, 2, 3, kNaNF, 9, kNaNF, -1, -4, -4, 0});
  Tensor<int64_t> idx = Tensor<int64_t>::zeros({3, 1});
  const kiln_reduce_attrs rows = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_ARGMAX, {x.desc}, {idx.desc}, &rows);
  EXPECT_EQ(idx.data, (std::vector<int64_t>{1, 1, 3}));
  EXPECT_LAUNCH_OK(KILN_OP_ARGMIN, {x.desc}, {idx.desc}, &rows);
  EXPECT_EQ(idx.data, (std::vector<int64_t>{0, 1, 1}));
  Tensor<int64_t> cols = Tensor<int64_t>::zeros({1, 4});
  const kiln_reduce_attrs down = reduce_axes({0});
  Tensor<int32_t> xi({3, 4}, {1, 5, 5, 2, 3, 7, 9, 7, -1, -4, 9, 0});
  EXPECT_LAUNCH_OK(KILN_OP_ARGMAX, {xi.desc}, {cols.desc}, &down);
  EXPECT_EQ(cols.data, (std::vector<int64_t>{1, 1, 1, 1}));
}

// ---- matmul ----
TEST(RefMatmul, TransposedStridesAndBatchBroadcast) {
  // a = [[1, 2, 3], [4, 5, 6]] stored as its transpose; b = [[1, 0], [0, 1], [1, 1]] shared by 2 batches.
  Tensor<double> at({3, 2}, {1, 4, 2, 5, 3, 6}), b({3, 2}, {1, 0, 0, 1, 1, 1}),
      out = Tensor<double>::zeros({2, 2, 2});
  kiln_tensor_desc a = at.desc;
  a.ndim = 3, a.shape[0] = 2, a.shape[1] = 2, a.shape[2] = 3, a.strides[0] = 0, a.strides[1] = 1,
  a.strides[2] = 2;
  kiln_tensor_desc bb = b.desc;
  bb.ndim = 3, bb.shape[0] = 2, bb.shape[1] = 3, bb.shape[2] = 2, bb.strides[0] = 0, bb.strides[1] = 2,
  bb.strides[2] = 1;
  EXPECT_LAUNCH_OK(KILN_OP_MATMUL, {a, bb}, {out.desc});
  expect_near_all(out.data, {4, 5, 10, 11, 4, 5, 10, 11}, 0);

  Tensor<int64_t> ai({1, 1, 2}, {3, -2}), bi({1, 2, 1}, {5, 7}), oi = Tensor<int64_t>::zeros({1, 1, 1});
  EXPECT_LAUNCH_OK(KILN_OP_MATMUL, {ai.desc, bi.desc}, {oi.desc});
  EXPECT_EQ(oi.data[0], 1);
  EXPECT_EQ(launch(KILN_OP_MATMUL, {ai.desc, ai.desc}, {oi.desc}), KILN_STATUS_INVALID_ARGUMENT);
}

// ---- convolution ----
kiln_conv2d_attrs conv_attrs(int64_t stride, int64_t padding, int64_t dilation, int64_t groups) {
  return kiln_conv2d_attrs{{stride, stride}, {padding, padding}, {dilation, dilation}, groups};
}

TEST(RefConv, HandComputedPaddingAndStride) {
  // x = [[1..3], [4..6], [7..9]], w = [[1, 2], [3, 4]], padding 1, stride 2 -> 2x2.
  Tensor<float> x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), w({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor<float> y = Tensor<float>::zeros({1, 1, 2, 2});
  const kiln_conv2d_attrs attrs = conv_attrs(2, 1, 1, 1);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D, {x.desc, w.desc}, {y.desc}, &attrs);
  // (0,0): only x[0][0]*4; (0,1): x[0][1]*3 + x[0][2]*4; (1,0): x[1][0]*2 + x[2][0]*4;
  // (1,1): x[1][1]*1 + x[1][2]*2 + x[2][1]*3 + x[2][2]*4
  expect_near_all(y.data, {4, 2 * 3 + 3 * 4, 4 * 2 + 7 * 4, 5 + 12 + 24 + 36}, 0);
  Tensor<float> bad = Tensor<float>::zeros({1, 1, 3, 3});
  EXPECT_EQ(launch(KILN_OP_CONV2D, {x.desc, w.desc}, {bad.desc}, &attrs), KILN_STATUS_INVALID_ARGUMENT);
}

// Sum of a .* b.
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
std::vector<double> ramp(size_t n, double scale, double shift) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(scale * static_cast<double>(i) + shift);
  return v;
}

TEST(RefConv, GroupsDilationAndBothBackwardsByFiniteDifferences) {
  // x [2, 4, 5, 6], groups 2, w [6, 2, 2, 3], stride 2, padding 1, dilation 2 -> y [2, 6, 3, 2].
  const std::vector<int64_t> xs = {2, 4, 5, 6}, ws = {6, 2, 2, 3}, ys = {2, 6, 3, 2};
  const kiln_conv2d_attrs attrs = conv_attrs(2, 1, 2, 2);
  Tensor<double> x(xs, ramp(240, 0.37, 0.1)), w(ws, ramp(72, 0.91, 0.5)), g(ys, ramp(72, 1.3, 0.2));
  Tensor<double> y = Tensor<double>::zeros(ys);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D, {x.desc, w.desc}, {y.desc}, &attrs);

  // Forward against a direct transcription of the definition.
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t o = 0; o < 6; ++o)
      for (int64_t oh = 0; oh < 3; ++oh)
        for (int64_t ow = 0; ow < 2; ++ow) {
          double want = 0;
          for (int64_t c = 0; c < 2; ++c)
            for (int64_t kh = 0; kh < 2; ++kh)
              for (int64_t kw = 0; kw < 3; ++kw) {
                const int64_t ih = oh * 2 - 1 + kh * 2, iw = ow * 2 - 1 + kw * 2, ci = (o / 3) * 2 + c;
                if (ih >= 0 && ih < 5 && iw >= 0 && iw < 6)
                  want += x.data[((n * 4 + ci) * 5 + ih) * 6 + iw] * w.data[((o * 2 + c) * 2 + kh) * 3 + kw];
              }
          EXPECT_NEAR(y.data[((n * 6 + o) * 3 + oh) * 2 + ow], want, 1e-12);
        }

  // L = <conv(x, w), g> is linear in x and in w, so a unit finite difference is its exact gradient.
  auto loss = [&](const Tensor<double>& xx, const Tensor<double>& ww) {
    Tensor<double> yy = Tensor<double>::zeros(ys);
    EXPECT_EQ(launch(KILN_OP_CONV2D, {xx.desc, ww.desc}, {yy.desc}, &attrs), KILN_STATUS_OK);
    return dot(yy.data, g.data);
  };
  const double base = loss(x, w);
  Tensor<double> dx = Tensor<double>::zeros(xs), dw = Tensor<double>::zeros(ws);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D_BACKWARD_INPUT, {g.desc, w.desc}, {dx.desc}, &attrs);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D_BACKWARD_WEIGHT, {g.desc, x.desc}, {dw.desc}, &attrs);
  for (size_t i = 0; i < x.data.size(); ++i) {
    Tensor<double> xp(xs, x.data);
    xp.data[i] += 1;
    EXPECT_NEAR(dx.data[i], loss(xp, w) - base, 1e-9) << "dx " << i;
  }
  for (size_t i = 0; i < w.data.size(); ++i) {
    Tensor<double> wp(ws, w.data);
    wp.data[i] += 1;
    EXPECT_NEAR(dw.data[i], loss(x, wp) - base, 1e-9) << "dw " << i;
  }
}

// ---- pooling ----
kiln_pool2d_attrs pool_attrs(int64_t kernel, int64_t stride, int64_t padding, int64_t dilation = 1,
                             int32_t count_include_pad = 1) {
  kiln_pool2d_attrs a{};
  for (int i = 0; i < 2; ++i)
    a.kernel[i] = kernel, a.stride[i] = stride, a.padding[i] = padding, a.dilation[i] = dilation;
  a.count_include_pad = count_include_pad;
  return a;
}

TEST(RefPool, MaxPoolValuesIndicesAndBackward) {
  // All negative, padding 1: padded cells (-inf) never win.
  Tensor<float> x({1, 1, 3, 3}, {-9, -2, -3, -4, -5, -1, -7, -8, -6});
  Tensor<float> y = Tensor<float>::zeros({1, 1, 2, 2});
  Tensor<int64_t> idx = Tensor<int64_t>::zeros({1, 1, 2, 2});
  const kiln_pool2d_attrs attrs = pool_attrs(2, 2, 1);
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D, {x.desc}, {y.desc, idx.desc}, &attrs);
  expect_near_all(y.data, {-9, -2, -4, -1}, 0);
  EXPECT_EQ(idx.data, (std::vector<int64_t>{0, 1, 3, 5}));

  // Overlapping windows (kernel 2, stride 1) that pick the same cell accumulate in backward.
  Tensor<double> z({1, 1, 3, 3}, {1, 2, 3, 4, 9, 5, 6, 7, 8});
  Tensor<double> zy = Tensor<double>::zeros({1, 1, 2, 2});
  Tensor<int64_t> zi = Tensor<int64_t>::zeros({1, 1, 2, 2});
  const kiln_pool2d_attrs overlap = pool_attrs(2, 1, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D, {z.desc}, {zy.desc, zi.desc}, &overlap);
  EXPECT_EQ(zi.data, (std::vector<int64_t>{4, 4, 4, 4}));
  Tensor<double> dy({1, 1, 2, 2}, {1, 2, 3, 4}), dx = Tensor<double>::zeros({1, 1, 3, 3});
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, zi.desc}, {dx.desc}, &overlap);
  expect_near_all(dx.data, {0, 0, 0, 0, 10, 0, 0, 0, 0}, 0);

  // Dilation 2 on a 1x5 row with kernel 1x2: windows read columns {0, 2}, {1, 3}, {2, 4}.
  kiln_pool2d_attrs dil = pool_attrs(1, 1, 0, 2);
  dil.kernel[1] = 2;
  Tensor<float> r({1, 1, 1, 5}, {5, 1, 3, 7, 2}), ry = Tensor<float>::zeros({1, 1, 1, 3});
  Tensor<int64_t> ri = Tensor<int64_t>::zeros({1, 1, 1, 3});
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D, {r.desc}, {ry.desc, ri.desc}, &dil);
  expect_near_all(ry.data, {5, 7, 3}, 0);
  EXPECT_EQ(ri.data, (std::vector<int64_t>{0, 3, 2}));

  zi.data[2] = 9;  // out of the 3x3 plane
  EXPECT_EQ(launch(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, zi.desc}, {dx.desc}, &overlap),
            KILN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("maxpool2d_backward"), std::string::npos) << last_error();
}

TEST(RefPool, AvgPoolCountIncludePadBothWays) {
  // x 3x3 = 1..9, kernel 2, stride 2, padding 1 -> 2x2 windows: {1}, {2,3}, {4,7}, {5,6,8,9}.
  Tensor<double> x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), y = Tensor<double>::zeros({1, 1, 2, 2});
  const kiln_pool2d_attrs with_pad = pool_attrs(2, 2, 1, 1, 1), without_pad = pool_attrs(2, 2, 1, 1, 0);
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D, {x.desc}, {y.desc}, &with_pad);
  expect_near_all(y.data, {1 / 4.0, 5 / 4.0, 11 / 4.0, 28 / 4.0}, 1e-15);
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D, {x.desc}, {y.desc}, &without_pad);
  expect_near_all(y.data, {1, 5 / 2.0, 11 / 2.0, 28 / 4.0}, 1e-15);

  // ceil_mode with x 4x4, kernel 3, stride 2, no padding: OH = 2; the last window is [2, 5) clipped
  // to [2, 4) with pool_size (min(5, 4) - 2)^2 = 4 either way.
  kiln_pool2d_attrs ceil = pool_attrs(3, 2, 0, 1, 1);
  ceil.ceil_mode = 1;
  std::vector<double> v(16);
  for (int i = 0; i < 16; ++i) v[i] = i;
  Tensor<double> x4({1, 1, 4, 4}, v), y4 = Tensor<double>::zeros({1, 1, 2, 2});
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D, {x4.desc}, {y4.desc}, &ceil);
  expect_near_all(y4.data, {5, 6.5, 11, 12.5}, 1e-15);

  // Backward is the adjoint of forward: <avgpool(x), g> == <x, avgpool_backward(g)>.
  for (const kiln_pool2d_attrs* attrs : {&with_pad, &without_pad}) {
    Tensor<double> g({1, 1, 2, 2}, {0.5, -1, 2, 3}), dx = Tensor<double>::zeros({1, 1, 3, 3});
    EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D, {x.desc}, {y.desc}, attrs);
    EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D_BACKWARD, {g.desc}, {dx.desc}, attrs);
    EXPECT_NEAR(dot(y.data, g.data), dot(x.data, dx.data), 1e-12);
  }
  Tensor<double> g({1, 1, 2, 2}, {4, 4, 4, 4}), dx = Tensor<double>::zeros({1, 1, 3, 3});
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D_BACKWARD, {g.desc}, {dx.desc}, &with_pad);
  expect_near_all(dx.data, {1, 1, 1, 1, 1, 1, 1, 1, 1}, 0);
}

// ---- softmax ----
TEST(RefSoftmax, ForwardStableAndBackward) {
  // Rows along axis 1 of [2, 3]; the second row is shifted by 1000 (stable: same result).
  Tensor<double> x({2, 3}, {1, 2, 3, 1001, 1002, 1003}), y = Tensor<double>::zeros({2, 3});
  const kiln_axis_attrs axis{1};
  EXPECT_LAUNCH_OK(KILN_OP_SOFTMAX, {x.desc}, {y.desc}, &axis);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const std::vector<double> p = {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z};
  expect_near_all(y.data, {p[0], p[1], p[2], p[0], p[1], p[2]}, 1e-15);

  Tensor<double> ly = Tensor<double>::zeros({2, 3});
  EXPECT_LAUNCH_OK(KILN_OP_LOG_SOFTMAX, {x.desc}, {ly.desc}, &axis);
  expect_near_all(
      ly.data,
      {std::log(p[0]), std::log(p[1]), std::log(p[2]), std::log(p[0]), std::log(p[1]), std::log(p[2])},
      1e-12);

  // dx = y * (dy - sum(dy * y)) and dx = dy - exp(y) * sum(dy), by hand for dy = [1, 0, -1].
  Tensor<double> dy({2, 3}, {1, 0, -1, 1, 0, -1}), dx = Tensor<double>::zeros({2, 3});
  EXPECT_LAUNCH_OK(KILN_OP_SOFTMAX_BACKWARD, {dy.desc, y.desc}, {dx.desc}, &axis);
  const double s = p[0] - p[2];
  expect_near_all(
      dx.data,
      {p[0] * (1 - s), p[1] * (0 - s), p[2] * (-1 - s), p[0] * (1 - s), p[1] * (0 - s), p[2] * (-1 - s)},
      1e-15);
  EXPECT_LAUNCH_OK(KILN_OP_LOG_SOFTMAX_BACKWARD, {dy.desc, ly.desc}, {dx.desc}, &axis);
  expect_near_all(dx.data, {1, 0, -1, 1, 0, -1}, 1e-15);  // sum(dy) = 0

  // Along axis 0 of a [3, 2] float32 tensor.
  Tensor<float> xc({3, 2}, {0, 5, 0, 5, 0, 5}), yc = Tensor<float>::zeros({3, 2});
  const kiln_axis_attrs axis0{0};
  EXPECT_LAUNCH_OK(KILN_OP_SOFTMAX, {xc.desc}, {yc.desc}, &axis0);
  expect_near_all(yc.data, {1 / 3.0, 1 / 3.0, 1 / 3.0, 1 / 3.0, 1 / 3.0, 1 / 3.0}, 1e-7);
}

// ---- indexing ----
TEST(RefIndex, GatherScatterAddIndexSelect) {
  Tensor<float> x({2, 3}, {1, 2, 3, 4, 5, 6});
  const kiln_axis_attrs axis1{1}, axis0{0};
  Tensor<int64_t> index({2, 2}, {2, 0, 1, 1});
  Tensor<float> g = Tensor<float>::zeros({2, 2});
  EXPECT_LAUNCH_OK(KILN_OP_GATHER, {x.desc, index.desc}, {g.desc}, &axis1);
  expect_near_all(g.data, {3, 1, 5, 5}, 0);

  Tensor<float> src({2, 2}, {10, 20, 30, 40}), out = Tensor<float>::zeros({2, 3});
  EXPECT_LAUNCH_OK(KILN_OP_SCATTER_ADD, {x.desc, index.desc, src.desc}, {out.desc}, &axis1);
  expect_near_all(out.data, {1 + 20, 2, 3 + 10, 4, 5 + 30 + 40, 6}, 0);

  Tensor<int64_t> rows({3}, {1, 1, 0});
  Tensor<float> sel = Tensor<float>::zeros({3, 3});
  EXPECT_LAUNCH_OK(KILN_OP_INDEX_SELECT, {x.desc, rows.desc}, {sel.desc}, &axis0);
  expect_near_all(sel.data, {4, 5, 6, 4, 5, 6, 1, 2, 3}, 0);

  Tensor<uint8_t> flags({3}, {1, 0, 1}, KILN_DTYPE_BOOL), fsel = Tensor<uint8_t>::zeros({3}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_INDEX_SELECT, {flags.desc, rows.desc}, {fsel.desc}, &axis0);
  EXPECT_EQ(fsel.data, (std::vector<uint8_t>{0, 0, 1}));

  index.data[2] = 3;  // position [1, 0], axis 1 has extent 3
  EXPECT_EQ(launch(KILN_OP_GATHER, {x.desc, index.desc}, {g.desc}, &axis1), KILN_STATUS_INVALID_ARGUMENT);
  const std::string message = last_error();
  for (const char* part : {"gather", "index 3", "[1, 0]", "[0, 3)"})
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
  index.data[2] = -1;
  EXPECT_EQ(launch(KILN_OP_SCATTER_ADD, {x.desc, index.desc, src.desc}, {out.desc}, &axis1),
            KILN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("scatter_add: index -1"), std::string::npos) << last_error();
}

TEST(RefIndex, EmbeddingAndBackwardWithPaddingIdx) {
  Tensor<double> weight({3, 2}, {0.5, 1, 2, 3, 4, 5});
  Tensor<int64_t> index({2, 2}, {2, 0, 0, 1});
  Tensor<double> out = Tensor<double>::zeros({2, 2, 2});
  const kiln_embedding_attrs no_pad{-1}, pad0{0};
  EXPECT_LAUNCH_OK(KILN_OP_EMBEDDING, {weight.desc, index.desc}, {out.desc}, &no_pad);
  expect_near_all(out.data, {4, 5, 0.5, 1, 0.5, 1, 2, 3}, 0);

  Tensor<double> dy({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), dw = Tensor<double>::zeros({3, 2});
  EXPECT_LAUNCH_OK(KILN_OP_EMBEDDING_BACKWARD, {dy.desc, index.desc}, {dw.desc}, &no_pad);
  expect_near_all(dw.data, {3 + 5, 4 + 6, 7, 8, 1, 2}, 0);
  dw.data.assign(6, 99.0);  // must be zeroed by the op
  EXPECT_LAUNCH_OK(KILN_OP_EMBEDDING_BACKWARD, {dy.desc, index.desc}, {dw.desc}, &pad0);
  expect_near_all(dw.data, {0, 0, 7, 8, 1, 2}, 0);

  index.data[3] = 3;
  EXPECT_EQ(launch(KILN_OP_EMBEDDING, {weight.desc, index.desc}, {out.desc}, &no_pad),
            KILN_STATUS_INVALID_ARGUMENT);
  const std::string message = last_error();
  for (const char* part : {"embedding", "index 3", "[1, 1]", "[0, 3)"})
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
}

// ---- data movement ----
TEST(RefData, CastClampsTruncatesAndWraps) {
  Tensor<float> f({7}, {1e10f, -1e10f, kNaNF, -2.7f, 2.7f, kInfF, 0.0f});
  Tensor<int32_t> i = Tensor<int32_t>::zeros({7});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {i.desc});
  const int32_t max = std::numeric_limits<int32_t>::max(), min = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(i.data, (std::vector<int32_t>{max, min, 0, -2, 2, max, 0}));
  Tensor<uint8_t> u = Tensor<uint8_t>::zeros({7});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {u.desc});
  EXPECT_EQ(u.data, (std::vector<uint8_t>{255, 0, 0, 0, 2, 255, 0}));
  Tensor<uint8_t> b = Tensor<uint8_t>::zeros({7}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {b.desc});
  EXPECT_EQ(b.data, (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 0}));
  Tensor<int64_t> l = Tensor<int64_t>::zeros({7});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {l.desc});
  EXPECT_EQ(l.data[0], 10000000000LL);
  EXPECT_EQ(l.data[5], std::numeric_limits<int64_t>::max());

  Tensor<double> d({3}, {1e300, -1e300, 0.1});
  Tensor<float> g = Tensor<float>::zeros({3});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {d.desc}, {g.desc});
  EXPECT_EQ(g.data[0], kInfF);
  EXPECT_EQ(g.data[1], -kInfF);
  EXPECT_EQ(g.data[2], 0.1f);

  Tensor<int64_t> big({2}, {(int64_t{1} << 32) + 5, -1});
  Tensor<int32_t> wrapped = Tensor<int32_t>::zeros({2});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {big.desc}, {wrapped.desc});
  EXPECT_EQ(wrapped.data, (std::vector<int32_t>{5, -1}));
  Tensor<uint8_t> flags({2}, {1, 0}, KILN_DTYPE_BOOL);
  Tensor<double> fd = Tensor<double>::zeros({2});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {flags.desc}, {fd.desc});
  expect_near_all(fd.data, {1, 0}, 0);
}

TEST(RefData, StridedFillAndCopy) {
  // Fill every other column of a 2x4 buffer, starting at column 1.
  Tensor<float> buffer({2, 4}, {0, 0, 0, 0, 0, 0, 0, 0});
  kiln_tensor_desc view = buffer.desc;
  view.offset = 1, view.shape[1] = 2, view.strides[1] = 2;
  const kiln_scalar_attrs value{2.5, 0};
  EXPECT_LAUNCH_OK(KILN_OP_FILL, {}, {view}, &value);
  expect_near_all(buffer.data, {0, 2.5, 0, 2.5, 0, 2.5, 0, 2.5}, 0);
  Tensor<uint8_t> u = Tensor<uint8_t>::zeros({2});
  const kiln_scalar_attrs negative{-3, 0};
  EXPECT_LAUNCH_OK(KILN_OP_FILL, {}, {u.desc}, &negative);
  EXPECT_EQ(u.data, (std::vector<uint8_t>{0, 0}));  // clamped into uint8

  // Copy a 2x3 tensor into the transpose of a 3x2 buffer.
  Tensor<int64_t> src({2, 3}, {1, 2, 3, 4, 5, 6}), dst = Tensor<int64_t>::zeros({3, 2});
  kiln_tensor_desc t = dst.desc;
  t.shape[0] = 2, t.shape[1] = 3, t.strides[0] = 1, t.strides[1] = 2;
  EXPECT_LAUNCH_OK(KILN_OP_COPY, {src.desc}, {t});
  EXPECT_EQ(dst.data, (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
}

// ---- random ----
TEST(RefRandom, DeterministicAndOffsetShiftsElements) {
  kiln_random_attrs attrs{1234, 0, -1.0, 3.0};
  Tensor<float> a = Tensor<float>::zeros({64}), b = Tensor<float>::zeros({64});
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {a.desc}, &attrs);
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {b.desc}, &attrs);
  EXPECT_EQ(a.data, b.data);
  for (size_t i = 0; i < a.data.size(); ++i) {
    EXPECT_EQ(a.data[i], static_cast<float>(kiln_random_uniform(1234, i, 0, -1.0, 3.0)));
    EXPECT_GE(a.data[i], -1.0f);
    EXPECT_LT(a.data[i], 3.0f);
  }
  attrs.offset = 10;
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {b.desc}, &attrs);
  for (size_t i = 0; i + 10 < a.data.size(); ++i) EXPECT_EQ(b.data[i], a.data[i + 10]);
  attrs.seed = 1235;
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {b.desc}, &attrs);
  EXPECT_NE(b.data[0], a.data[10]);

  kiln_random_attrs dice{7, 0, 1.0, 7.0};
  Tensor<int32_t> d = Tensor<int32_t>::zeros({600});
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {d.desc}, &dice);
  int seen[8] = {};
  for (int32_t v : d.data) {
    ASSERT_GE(v, 1);
    ASSERT_LE(v, 6);
    ++seen[v];
  }
  for (int face = 1; face <= 6; ++face) EXPECT_GT(seen[face], 50) << face;
  EXPECT_EQ(d.data[3], static_cast<int32_t>(std::floor(kiln_random_uniform(7, 3, 1, 1.0, 7.0))));
}

TEST(RefRandom, NormalMomentsAndBernoulliRate) {
  const int n = 10000;
  kiln_random_attrs normal{42, 0, 2.0, 0.5};
  Tensor<double> x = Tensor<double>::zeros({100, 100});
  EXPECT_LAUNCH_OK(KILN_OP_NORMAL, {}, {x.desc}, &normal);
  double sum = 0, sq = 0;
  for (double v : x.data) sum += v;
  const double mean = sum / n;
  for (double v : x.data) sq += (v - mean) * (v - mean);
  EXPECT_NEAR(mean, 2.0, 0.03);
  EXPECT_NEAR(std::sqrt(sq / (n - 1)), 0.5, 0.02);
  EXPECT_EQ(x.data[17], kiln_random_normal(42, 17, 2.0, 0.5));

  kiln_random_attrs coin{9, 100, 0.3, 0};
  Tensor<uint8_t> b = Tensor<uint8_t>::zeros({n}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_BERNOULLI, {}, {b.desc}, &coin);
  int ones = 0;
  for (uint8_t v : b.data) {
    ASSERT_LE(v, 1);
    ones += v;
  }
  EXPECT_NEAR(ones / static_cast<double>(n), 0.3, 0.015);
  Tensor<float> bf = Tensor<float>::zeros({n});
  EXPECT_LAUNCH_OK(KILN_OP_BERNOULLI, {}, {bf.desc}, &coin);
  for (int i = 0; i < n; ++i) ASSERT_EQ(bf.data[i], static_cast<float>(b.data[i]));
}

}  // namespace
