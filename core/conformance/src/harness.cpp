// The conformance runner: builds every case of every op, copies it to the backend under test and
// to the reference backend, runs it on both with run_exact and compares outputs and errors.
#include <kiln/conformance.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "harness.hpp"

namespace kiln::conformance {


const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Permuted: return "permuted";
    case Layout::Stepped: return "stepped";
    case Layout::Offset: return "offset";
    case Layout::Broadcast: return "broadcast";
  }
  return "?";
}

std::string shape_label(const Shape& s) {
  std::string out = "[";
  for (int64_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

void set_tolerance(Case& c, DType dtype, int64_t terms) {
  ConformanceTolerance t = conformance_tolerance(dtype, terms);
  c.rtol = t.rtol;
  c.atol = t.atol;
}

Tensor host_tensor(const Context& ctx, const Shape& shape, DType dtype, const std::vector<double>& values) {
  KILN_ASSERT(static_cast<int64_t>(values.size()) == shape.numel(), "conformance: value count");
  Tensor t = detail::make_tensor(shape, dtype, ctx.device);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      std::vector<unsigned char> bytes(values.size());
      for (size_t i = 0; i < values.size(); ++i) bytes[i] = values[i] != 0;
      detail::write_bytes(t, 0, bytes.data(), bytes.size());
    } else {
      std::vector<T> typed(values.size());
      for (size_t i = 0; i < values.size(); ++i) typed[i] = static_cast<T>(values[i]);
      detail::write_bytes(t, 0, typed.data(), typed.size() * sizeof(T));
    }
  });
  return t;
}

Tensor host_full(const Context& ctx, const Shape& shape, DType dtype, double value) {
  return host_tensor(ctx, shape, dtype, std::vector<double>(static_cast<size_t>(shape.numel()), value));
}

Tensor make_output(const Context& ctx, const Shape& shape, DType dtype) {
  double sentinel = is_floating(dtype) ? -12345.5 : dtype == DType::Bool ? 1.0 : dtype == DType::UInt8 ? 77.0 : -77.0;
  return host_full(ctx, shape, dtype, sentinel);
}

std::vector<double> random_values(Rng& rng, int64_t n, DType dtype, Domain domain) {
  std::vector<double> v(static_cast<size_t>(n));
  const bool fl = is_floating(dtype), u8 = dtype == DType::UInt8, b = dtype == DType::Bool;
  for (auto& x : v) {
    if (b) {
      x = domain == Domain::Positive || domain == Domain::NonZero ? 1.0 : static_cast<double>(rng.integer(0, 1));
      continue;
    }
    switch (domain) {
      case Domain::General:
        x = fl ? rng.uniform(-2, 2) : static_cast<double>(u8 ? rng.integer(0, 9) : rng.integer(-5, 5));
        break;
      case Domain::Positive: x = fl ? rng.uniform(0.5, 2.5) : static_cast<double>(rng.integer(1, 5)); break;
      case Domain::NonZero: {
        double mag = fl ? rng.uniform(0.5, 2) : static_cast<double>(rng.integer(1, u8 ? 9 : 5));
        x = (!u8 && rng.integer(0, 1)) ? -mag : mag;
        break;
      }
      case Domain::SmallInt: x = static_cast<double>(u8 ? rng.integer(0, 3) : rng.integer(-2, 2)); break;
      case Domain::Unit: x = fl ? rng.uniform(0, 1) : static_cast<double>(rng.integer(0, 1)); break;
      case Domain::NearOne:
        x = fl ? rng.uniform(0.5, 1.5) : static_cast<double>(u8 ? rng.integer(1, 3) : rng.integer(-1, 1));
        break;
      case Domain::Wide:
        x = fl ? rng.uniform(-100, 100) : static_cast<double>(u8 ? rng.integer(0, 200) : rng.integer(-100, 100));
        break;
    }
  }
  return v;
}

Tensor make_input(const Context& ctx, Rng& rng, const Shape& shape, DType dtype, Domain domain, Layout layout) {
  const int64_t n = shape.size();
  if ((layout == Layout::Transposed || layout == Layout::Permuted) && n < 2) layout = Layout::Stepped;
  if (layout == Layout::Broadcast && n == 0) layout = Layout::Offset;
  switch (layout) {
    case Layout::Contiguous:
      return host_tensor(ctx, shape, dtype, random_values(rng, shape.numel(), dtype, domain));
    case Layout::Transposed: {
      Shape base = shape;
      std::swap(base[n - 1], base[n - 2]);
      return host_tensor(ctx, base, dtype, random_values(rng, base.numel(), dtype, domain)).transpose(-1, -2);
    }
    case Layout::Permuted: {
      Shape base;
      std::vector<int64_t> dims;
      for (int64_t i = n - 1; i >= 0; --i) base.push_back(shape[i]);
      for (int64_t i = n - 1; i >= 0; --i) dims.push_back(i);
      return host_tensor(ctx, base, dtype, random_values(rng, base.numel(), dtype, domain)).permute(dims);
    }
    case Layout::Stepped: {
      if (n == 0) {  // a 0-d view one element into a [3] buffer
        return host_tensor(ctx, {3}, dtype, random_values(rng, 3, dtype, domain)).select(0, 1);
      }
      Shape base = shape;
      for (int64_t i = 0; i < n; ++i) base[i] = 2 * shape[i] + 1;
      Tensor t = host_tensor(ctx, base, dtype, random_values(rng, base.numel(), dtype, domain));
      for (int64_t i = 0; i < n; ++i) t = t.slice(i, 1, 1 + 2 * shape[i], 2);
      return t;
    }
    case Layout::Offset: {
      const int64_t count = shape.numel();
      Tensor base = host_tensor(ctx, {count + 7}, dtype, random_values(rng, count + 7, dtype, domain));
      return detail::make_view(base, shape, contiguous_strides(shape), 5);
    }
    case Layout::Broadcast: {
      Shape base = shape;
      for (int64_t i = 0; i < n; i += 2) base[i] = std::min<int64_t>(base[i], 1);
      if (base == shape && n > 0) base[n - 1] = std::min<int64_t>(base[n - 1], 1);
      return host_tensor(ctx, base, dtype, random_values(rng, base.numel(), dtype, domain)).expand(shape);
    }
  }
  return {};
}

void run_on_reference(const Context& ctx, kiln_op op, const std::vector<Tensor>& inputs,
                      const std::vector<Tensor>& outputs, const void* attrs) {
  detail::run_exact(ctx.device.entry(), op, inputs, outputs, attrs);
}

namespace {

// A copy of t's whole buffer on backend b's device 0, viewed with t's shape, strides and offset.
Tensor place(const Tensor& t, detail::BackendEntry* b) {
  const detail::Storage& src = *t.impl()->storage;
  Device device(b, 0);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = detail::allocate_storage(device, src.bytes);
  impl->shape = t.shape();
  impl->strides = t.strides();
  impl->offset = t.offset();
  impl->dtype = t.dtype();
  impl->device = device;
  Tensor out(std::move(impl));
  std::vector<unsigned char> bytes(src.bytes);
  detail::read_bytes(t, 0, bytes.data(), bytes.size());
  detail::write_bytes(out, 0, bytes.data(), bytes.size());
  return out;
}

// Every element of the whole buffer behind t, as doubles (bool reads the raw byte).
std::vector<double> buffer_values(const Tensor& t) {
  const detail::Storage& s = *t.impl()->storage;
  std::vector<unsigned char> bytes(s.bytes);
  detail::read_bytes(t, 0, bytes.data(), bytes.size());
  std::vector<double> out(bytes.size() / dtype_size(t.dtype()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = bytes[i];
    } else {
      for (size_t i = 0; i < out.size(); ++i) {
        T v;
        std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
        out[i] = static_cast<double>(v);
      }
    }
  });
  return out;
}

// The elements of the view t in row-major order, as doubles.
std::vector<double> view_values(const Tensor& t) {
  std::vector<double> buffer = buffer_values(t);
  std::vector<double> out;
  const int64_t count = t.numel();
  out.reserve(static_cast<size_t>(count));
  const int64_t n = t.dim();
  std::vector<int64_t> index(static_cast<size_t>(n), 0);
  for (int64_t k = 0; k < count; ++k) {
    int64_t off = t.offset();
    for (int64_t d = 0; d < n; ++d) off += index[d] * t.strides()[d];
    out.push_back(buffer.at(static_cast<size_t>(off)));
    for (int64_t d = n - 1; d >= 0; --d) {
      if (++index[d] < t.shape()[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

ConformanceComparison compare_values(const std::vector<double>& actual, const std::vector<double>& expected,
                                     double rtol, double atol) {
  ConformanceComparison r;
  r.passed = true;
  if (actual.size() != expected.size()) {
    r.passed = false;
    r.message = "element count " + std::to_string(actual.size()) + " != expected " + std::to_string(expected.size());
    return r;
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    bool ok;
    if (std::isnan(a) || std::isnan(e)) {
      ok = std::isnan(a) && std::isnan(e);
    } else if (std::isinf(a) || std::isinf(e)) {
      ok = a == e;
    } else {
      const double err = std::fabs(a - e);
      r.max_error = std::max(r.max_error, err);
      ok = rtol == 0 && atol == 0 ? a == e : err <= atol + rtol * std::fabs(e);
    }
    if (!ok && r.passed) {
      r.passed = false;
      std::ostringstream os;
      os.precision(17);
      os << "element " << i << ": got " << a << ", expected " << e << " (rtol " << rtol << ", atol " << atol << ")";
      r.message = os.str();
    }
  }
  if (!r.passed) r.message += "; max |error| " + std::to_string(r.max_error);
  return r;
}

std::vector<int32_t> dtypes_of(const Case& c) {
  std::vector<int32_t> d;
  for (const Tensor& t : c.inputs) d.push_back(static_cast<int32_t>(t.dtype()));
  for (const Tensor& t : c.outputs) d.push_back(static_cast<int32_t>(t.dtype()));
  return d;
}

bool backend_supports(detail::BackendEntry* b, kiln_op op, const std::vector<int32_t>& dtypes, const void* attrs) {
  return detail::backend_claims(b, op, dtypes, attrs);
}

struct Run {
  std::vector<Tensor> outputs;
  bool failed = false;
  std::string error;
};

Run run_case(detail::BackendEntry* b, kiln_op op, const Case& c) {
  Run r;
  std::vector<Tensor> inputs;
  for (const Tensor& t : c.inputs) inputs.push_back(place(t, b));
  for (const Tensor& t : c.outputs) r.outputs.push_back(place(t, b));
  try {
    detail::run_exact(b, op, inputs, r.outputs, c.attrs.get());
    detail::synchronize(Device(b, 0));
  } catch (const Error& e) {
    r.failed = true;
    r.error = e.what();
  }
  return r;
}

ConformanceResult judge(detail::BackendEntry* backend, detail::BackendEntry* ref, kiln_op op, const Case& c) {
  ConformanceResult res;
  res.op = detail::op_name(op);
  res.dtype = c.dtype;
  res.case_name = c.name;
  const std::vector<int32_t> dtypes = dtypes_of(c);
  if (!backend_supports(backend, op, dtypes, c.attrs.get())) {
    res.skipped = true;
    res.message = "not supported by backend '" + backend->name + "'";
    return res;
  }
  if (!backend_supports(ref, op, dtypes, c.attrs.get())) {
    res.skipped = true;
    res.message = "not supported by the reference backend";
    return res;
  }
  Run expected = run_case(ref, op, c);
  Run actual = run_case(backend, op, c);
  if (c.expect_error) {
    res.passed = expected.failed && actual.failed;
    if (!expected.failed) res.message = "invalid case accepted by the reference backend";
    else if (!actual.failed) res.message = "invalid case accepted (expected an error like: " + expected.error + ")";
    return res;
  }
  if (expected.failed) {
    res.message = "the reference backend failed: " + expected.error;
    return res;
  }
  if (actual.failed) {
    res.message = actual.error;
    return res;
  }
  res.passed = true;
  for (size_t i = 0; i < c.outputs.size(); ++i) {
    ConformanceComparison cmp =
        c.compare_storage
            ? compare_values(buffer_values(actual.outputs[i]), buffer_values(expected.outputs[i]), c.rtol, c.atol)
            : compare_conformance_outputs(actual.outputs[i], expected.outputs[i], c.rtol, c.atol);
    res.max_error = std::max(res.max_error, cmp.max_error);
    if (!cmp.passed && res.passed) {
      res.passed = false;
      res.message = (c.outputs.size() > 1 ? "output " + std::to_string(i) + ": " : "") + cmp.message;
    }
  }
  return res;
}

std::vector<Case> cases_for(kiln_op op, DType dtype, const Context& ctx, Rng& rng) {
  const Kind kind = op_kind(op);
  switch (kind) {
    case KILN_OP_KIND_UNARY: case KILN_OP_KIND_SCALAR_UNARY: case KILN_OP_KIND_BINARY: case KILN_OP_KIND_COMPARE: case KILN_OP_KIND_TERNARY:
      return pointwise_cases(op, kind, dtype, ctx, rng);
    case KILN_OP_KIND_CAST: case KILN_OP_KIND_FILL: case KILN_OP_KIND_COPY: case KILN_OP_KIND_RANDOM:
      return data_cases(op, kind, dtype, ctx, rng);
    case KILN_OP_KIND_REDUCE: case KILN_OP_KIND_ARGREDUCE: case KILN_OP_KIND_SOFTMAX:
      return reduce_cases(op, kind, dtype, ctx, rng);
    case KILN_OP_KIND_MATMUL: case KILN_OP_KIND_CONV: case KILN_OP_KIND_POOL:
      return linalg_cases(op, kind, dtype, ctx, rng);
    case KILN_OP_KIND_INDEX:
      return index_cases(op, kind, dtype, ctx, rng);
  }
  return {};
}

constexpr DType kAllDTypes[] = {DType::Float32, DType::Float64, DType::Int32,   DType::Int64,
                                DType::UInt8,   DType::Bool,    DType::Float16, DType::BFloat16};

}  // namespace

}  // namespace kiln::conformance

namespace kiln {

using namespace conformance;

ConformanceTolerance conformance_tolerance(DType dtype, int64_t terms) {
  const double s = std::max(1.0, std::sqrt(static_cast<double>(std::max<int64_t>(terms, 1))));
  const double r = std::max(1.0, s / 4);
  switch (dtype) {
    case DType::Float32: return {1e-4 * r, 1e-5 * s};
    case DType::Float64: return {1e-10 * r, 1e-12 * s};
    // Half precision: a backend may round each step to 11 (float16) or 8 (bfloat16) significant
    // bits where ref rounds once; a few units in the last place, growing with the terms.
    case DType::Float16: return {4e-3 * r, 1e-3 * s};
    case DType::BFloat16: return {3e-2 * r, 8e-3 * s};
    default: return {0, 0};
  }
}

ConformanceComparison compare_conformance_outputs(const Tensor& actual, const Tensor& expected, double rtol,
                                                  double atol) {
  ConformanceComparison r;
  if (actual.shape() != expected.shape()) {
    r.message = "shape " + actual.shape().str() + " != expected " + expected.shape().str();
    return r;
  }
  if (actual.dtype() != expected.dtype()) {
    r.message = "dtype " + std::string(dtype_name(actual.dtype())) + " != expected " +
                std::string(dtype_name(expected.dtype()));
    return r;
  }
  return compare_values(view_values(actual), view_values(expected), rtol, atol);
}

std::vector<ConformanceResult> run_conformance(const ConformanceOptions& options) {
  auto& registry = detail::Registry::get();
  detail::BackendEntry* backend = registry.find(options.backend);
  detail::BackendEntry* ref = registry.find("ref");
  KILN_CHECK(backend != nullptr, BackendError, "conformance: backend '", options.backend, "' is not loaded");
  KILN_CHECK(ref != nullptr, BackendError, "conformance: the reference backend 'ref' is not loaded");
  KILN_CHECK(!backend->devices.empty(), DeviceError, "conformance: backend '", backend->name, "' has no device (",
             backend->status_note.empty() ? "no reason given" : backend->status_note, ")");
  KILN_CHECK(!ref->devices.empty(), DeviceError, "conformance: the reference backend has no device");
  for (const std::string& name : options.ops) {
    bool known = false;
    for (int op = 0; op < KILN_OP_COUNT; ++op) known = known || name == detail::op_name(static_cast<kiln_op>(op));
    KILN_CHECK(known, ValueError, "conformance: unknown op '", name, "' (see ops.def for the names)");
  }
  Context ctx{Device(ref, 0), options.seed};
  std::vector<ConformanceResult> results;
  for (int op_index = 0; op_index < KILN_OP_COUNT; ++op_index) {
    const auto op = static_cast<kiln_op>(op_index);
    const std::string name = detail::op_name(op);
    if (!options.ops.empty() && std::find(options.ops.begin(), options.ops.end(), name) == options.ops.end()) continue;
    bool any = false;
    for (DType dtype : kAllDTypes) {
      const std::vector<int32_t> sig = detail::op_signature(op, dtype);
      // CAST has a second dtype: accept the source dtype when any target is supported.
      bool supported = backend_supports(backend, op, sig, nullptr);
      if (op == KILN_OP_CAST)
        for (DType to : kAllDTypes) {
          const int32_t pair[2] = {static_cast<int32_t>(dtype), static_cast<int32_t>(to)};
          supported = supported || detail::backend_claims(backend, op, {pair[0], pair[1]}, nullptr);
        }
      if (!supported) continue;
      any = true;
      Rng rng(options.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(op_index) * 1000003u +
              static_cast<uint64_t>(dtype) * 7919u + 1);
      std::vector<Case> cases;
      try {
        cases = cases_for(op, dtype, ctx, rng);
      } catch (const Error& e) {  // e.g. the reference cannot build an input (pool indices)
        ConformanceResult r;
        r.op = name;
        r.dtype = std::string(dtype_name(dtype));
        r.case_name = "-";
        r.message = std::string("building the cases failed: ") + e.what();
        results.push_back(r);
        continue;
      }
      for (const Case& c : cases) {
        results.push_back(judge(backend, ref, op, c));
        if (options.verbose) {
          const ConformanceResult& r = results.back();
          std::cerr << (r.skipped ? "SKIP " : r.passed ? "ok   " : "FAIL ") << r.op << " " << r.dtype << " "
                    << r.case_name << (r.message.empty() ? "" : ": " + r.message) << "\n";
        }
      }
    }
    if (!any) {
      ConformanceResult r;
      r.op = name;
      r.dtype = "-";
      r.case_name = "-";
      r.skipped = true;
      r.message = "backend '" + backend->name + "' supports this op for no dtype";
      results.push_back(r);
      if (options.verbose) std::cerr << "SKIP " << name << ": " << r.message << "\n";
    }
  }
  return results;
}

}  // namespace kiln
