#include <kiln/random.hpp>

#include <kiln/plugin/philox.h>

#include <algorithm>
#include <numeric>

#include "dispatch/dispatch.hpp"

namespace kiln {

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard lock(mutex_);
  seed_ = seed;
  offset_ = 0;
}
uint64_t Generator::seed() const {
  std::lock_guard lock(mutex_);
  return seed_;
}
uint64_t Generator::offset() const {
  std::lock_guard lock(mutex_);
  return offset_;
}
void Generator::set_state(uint64_t seed, uint64_t offset) {
  std::lock_guard lock(mutex_);
  seed_ = seed;
  offset_ = offset;
}
std::pair<uint64_t, uint64_t> Generator::reserve(uint64_t n) {
  std::lock_guard lock(mutex_);
  auto r = std::make_pair(seed_, offset_);
  offset_ += n;
  return r;
}
double Generator::next_double() {
  auto [seed, c] = reserve(1);
  return kiln_philox_unit53(kiln_philox4x32_10(seed, c));
}
uint64_t Generator::next_u64() {
  auto [seed, c] = reserve(1);
  auto w = kiln_philox4x32_10(seed, c);
  return static_cast<uint64_t>(w.r[0]) << 32 | w.r[1];
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}
void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {
Tensor& random_fill(Tensor& t, kiln_op op, double a, double b, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor target = t.is_contiguous() ? t : empty_like(t);
  auto [seed, offset] = g.reserve(static_cast<uint64_t>(t.numel()));
  kiln_random_attrs attrs{KILN_ATTRS_HEAD(kiln_random_attrs), seed, offset, a, b};
  detail::run(op, target.device(), {}, {target}, &attrs);
  if (!target.same(t)) t.copy_(target);
  return t;
}
}  // namespace

Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) {
  return random_fill(t, KILN_OP_UNIFORM, low, high, gen);
}
Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  KILN_CHECK(std >= 0, ValueError, "normal_: std must be non-negative, got ", std);
  return random_fill(t, KILN_OP_NORMAL, mean, std, gen);
}
Tensor rand(const Shape& shape, const TensorOptions& options, Generator* gen) {
  KILN_CHECK(is_floating(options.dtype), DTypeError, "rand: expected a floating dtype, got ", dtype_name(options.dtype));
  Tensor t = empty(shape, options);
  return uniform_(t, 0.0, 1.0, gen);
}
Tensor randn(const Shape& shape, const TensorOptions& options, Generator* gen) {
  KILN_CHECK(is_floating(options.dtype), DTypeError, "randn: expected a floating dtype, got ", dtype_name(options.dtype));
  Tensor t = empty(shape, options);
  return normal_(t, 0.0, 1.0, gen);
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, const TensorOptions& options, Generator* gen) {
  KILN_CHECK(high > low, ValueError, "randint: expected low < high, got [", low, ", ", high, ")");
  Tensor t = empty(shape, options);
  return random_fill(t, KILN_OP_UNIFORM, static_cast<double>(low), static_cast<double>(high), gen);
}
Tensor bernoulli(const Tensor& like, double p, Generator* gen) {
  KILN_CHECK(p >= 0 && p <= 1, ValueError, "bernoulli: p must be in [0, 1], got ", p);
  Tensor t = empty(like.shape(), {.dtype = like.dtype(), .device = like.device()});
  return random_fill(t, KILN_OP_BERNOULLI, p, 0.0, gen);
}

Tensor randperm(int64_t n, Generator* gen, const std::optional<Device>& device) {
  KILN_CHECK(n >= 0, ValueError, "randperm: n must be non-negative, got ", n);
  Generator& g = gen ? *gen : default_generator();
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  // Fisher-Yates with Philox draws: the same permutation for the same seed on any machine.
  auto [seed, offset] = g.reserve(static_cast<uint64_t>(n));
  for (int64_t i = n - 1; i > 0; --i) {
    auto w = kiln_philox4x32_10(seed, offset + static_cast<uint64_t>(i));
    uint64_t r = (static_cast<uint64_t>(w.r[0]) << 32 | w.r[1]) % static_cast<uint64_t>(i + 1);
    std::swap(perm[i], perm[r]);
  }
  return from_vector(perm, {n}, device);
}

}  // namespace kiln
