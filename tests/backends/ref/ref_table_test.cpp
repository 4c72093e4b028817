// The reference backend through its C table: what it reports, what supports() claims and that
// every claimed op runs, empty tensors, malformed descriptors.
#include "ref_kernels.hpp"

namespace kiln_ref_test {
namespace {

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
    case KILN_OP_WHERE: case KILN_OP_MUL_ADD: return {{2, 3}, {2, 3}, {2, 3}, {2, 3}};
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
  kiln_scalar_attrs scalar{KILN_ATTRS_HEAD(kiln_scalar_attrs), 0.5, 2.0};
  kiln_reduce_attrs reduce = reduce_axes({1});
  kiln_conv2d_attrs conv{KILN_ATTRS_HEAD(kiln_conv2d_attrs), {1, 1}, {0, 0}, {1, 1}, 1};
  kiln_pool2d_attrs pool{KILN_ATTRS_HEAD(kiln_pool2d_attrs), {2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, 1};
  kiln_axis_attrs axis{KILN_ATTRS_HEAD(kiln_axis_attrs), 1};
  kiln_embedding_attrs embedding{KILN_ATTRS_HEAD(kiln_embedding_attrs), -1};
  kiln_random_attrs random{KILN_ATTRS_HEAD(kiln_random_attrs), 1, 0, 0.0, 1.0};
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
      kiln_launch_desc l{};
      l.struct_size = sizeof(l);
      l.op = op;
      l.num_inputs = static_cast<int32_t>(num_inputs);
      l.num_outputs = static_cast<int32_t>(num_outputs);
      l.tensor_desc_size = sizeof(kiln_tensor_desc);
      l.inputs = descs.data();
      l.outputs = descs.data() + num_inputs;
      l.attrs = attrs.for_op(op);
      const bool claims = api()->device_supports(device(), &l) == 1;
      EXPECT_EQ(claims, api()->supports(api()->backend, op, dtypes.data(), static_cast<int32_t>(arity), nullptr) == 1)
          << "op " << o << " combo " << combo << ": device_supports and supports disagree";
      const kiln_status status = api()->launch_v2(stream(), &l);
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
  kiln_pool2d_attrs pool = kiln_pool2d_attrs_init();
  for (int i = 0; i < 2; ++i) pool.kernel[i] = 2, pool.stride[i] = 2, pool.dilation[i] = 1;
  Tensor<double> p = Tensor<double>::zeros({0, 2, 2, 2});
  Tensor<int64_t> pi = Tensor<int64_t>::zeros({0, 2, 2, 2});
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D, {x.desc}, {p.desc, pi.desc}, &pool);
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D_BACKWARD, {p.desc, pi.desc}, {x.desc}, &pool);
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D_BACKWARD, {p.desc}, {x.desc}, &pool);
  Tensor<float> rows = Tensor<float>::zeros({0, 3}), rows_out = Tensor<float>::zeros({0, 3});
  const kiln_axis_attrs axis{KILN_ATTRS_HEAD(kiln_axis_attrs), 1};
  EXPECT_LAUNCH_OK(KILN_OP_SOFTMAX, {rows.desc}, {rows_out.desc}, &axis);
  Tensor<float> none = Tensor<float>::zeros({0, 1});
  const kiln_reduce_attrs across = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_MAX, {rows.desc}, {none.desc}, &across);
  // embedding_backward with no indices zeroes dW.
  Tensor<float> dy = Tensor<float>::zeros({0, 2}), dW({3, 2}, {1, 1, 1, 1, 1, 1});
  Tensor<int64_t> idx = Tensor<int64_t>::zeros({0});
  const kiln_embedding_attrs emb{KILN_ATTRS_HEAD(kiln_embedding_attrs), -1};
  EXPECT_LAUNCH_OK(KILN_OP_EMBEDDING_BACKWARD, {dy.desc, idx.desc}, {dW.desc}, &emb);
  expect_near_all(dW.data, {0, 0, 0, 0, 0, 0}, 0);
  const kiln_random_attrs rnd{KILN_ATTRS_HEAD(kiln_random_attrs), 1, 0, 0, 1};
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
  const kiln_conv2d_attrs zero_stride{KILN_ATTRS_HEAD(kiln_conv2d_attrs), {0, 0}, {0, 0}, {1, 1}, 1};
  Tensor<float> img = Tensor<float>::zeros({1, 1, 2, 2}), k = Tensor<float>::zeros({1, 1, 1, 1});
  EXPECT_EQ(launch(KILN_OP_CONV2D, {img.desc, k.desc}, {img.desc}, &zero_stride),
            KILN_STATUS_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kiln_ref_test
