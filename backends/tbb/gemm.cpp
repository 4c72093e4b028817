// GEMM driver: blocking, packing and the parallel split (micro-kernels live in gemm_<isa>.cpp).
//
// Note [GEMM loop order]: for each block of NC columns and KC depth, B is packed into NR-wide
// micro-panels (the block stays in L2) and A into MR-high micro-panels. Each task owns a range of
// A micro-panels; for each one (in L1) it sweeps the B micro-panels of the block. Tasks split the
// rows (then the columns when there are few rows); the sum over k of an element is always done in
// the same order, so the result is the same for every thread count.
#include "gemm.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "common.hpp"

namespace kiln::tbbk {
namespace {

// 64-byte aligned growable scratch (the micro-kernels use aligned loads on packed B).
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(p_); }
  void* get(size_t bytes) {
    if (bytes > size_) {
      std::free(p_);
      size_ = (bytes + 4095) / 4096 * 4096;
      p_ = std::aligned_alloc(64, size_);
      if (p_ == nullptr) {
        size_ = 0;
        throw std::bad_alloc();
      }
    }
    return p_;
  }

 private:
  void* p_ = nullptr;
  size_t size_ = 0;
};

// Packing buffers are kept per thread so the steady state allocates nothing; a GEMM that starts
// while its thread's buffers are in use (a nested call) gets fresh ones.
struct Scratch {
  AlignedBuffer a, b;
  bool busy = false;
};
thread_local Scratch tls_scratch;

// Packing a strided operand walks k outermost: the destination is written in order, and the MR
// (NR) source lines read at one k are read again at the next, so they stay in L1. (Walking the
// weight gradient's transposed col^T column by column instead wrote a 33 KB panel in 128-byte
// strides 25 times over: half the time of LeNet's conv1 weight gradient went there; k-outer
// made it 20-30% faster, bench/kernels conv_bwd_weight.) B with contiguous rows is copied row by row.
template <class T>
void pack_a(const T* A, int64_t rs, int64_t cs, int64_t rows, int64_t kc, int mr, T* dst) {
  for (int64_t k = 0; k < kc; ++k, dst += mr) {
    const T* src = A + k * cs;
    int64_t i = 0;
    for (; i < rows; ++i) dst[i] = src[i * rs];
    for (; i < mr; ++i) dst[i] = T(0);
  }
}

template <class T>
void pack_b(const T* B, int64_t rs, int64_t cs, int64_t kc, int64_t cols, int nr, T* dst) {
  if (cs == 1) {  // rows of B contiguous: row by row
    for (int64_t k = 0; k < kc; ++k) {
      std::memcpy(dst + k * nr, B + k * rs, sizeof(T) * cols);
      std::fill(dst + k * nr + cols, dst + (k + 1) * nr, T(0));
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k, dst += nr) {
    const T* src = B + k * rs;
    int64_t j = 0;
    for (; j < cols; ++j) dst[j] = src[j * cs];
    for (; j < nr; ++j) dst[j] = T(0);
  }
}

template <class T>
const MicroKernel<T>& kernel_for() {
  if constexpr (sizeof(T) == 4) return sgemm_kernel();
  else return dgemm_kernel();
}

// Depth of the packed blocks: K split into equal pieces no deeper than the kernel's limit.
template <class T>
int64_t depth_block(int64_t K, const MicroKernel<T>& uk) {
  const int64_t kblocks = (K + uk.kc - 1) / uk.kc;
  return (K + kblocks - 1) / kblocks;
}

// prepacked: A as PackedA lays it out, or null to pack it here. b_readable: columns of B that may
// be read (>= N; a kernel reads NR of them at a time).
template <class T>
void gemm_impl(int64_t M, int64_t N, int64_t K, const T* A, int64_t a_rs, int64_t a_cs, const T* prepacked,
               const T* B, int64_t b_rs, int64_t b_cs, int64_t b_readable, T* C, int64_t ldc, bool accumulate,
               bool parallel) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, T(0));
    return;
  }
  const MicroKernel<T>& uk = kernel_for<T>();
  const int MR = uk.mr, NR = uk.nr;
  const int threads = num_threads();
  const bool par = parallel && threads > 1 && static_cast<double>(M) * N * K >= 262144.0 * 2;

  // Even blocks: split K and N into equal pieces no larger than the kernel's limits.
  const int64_t KC = depth_block(K, uk);
  const int64_t nblocks = (N + uk.nc - 1) / uk.nc;
  const int64_t NC = ((N + nblocks - 1) / nblocks + NR - 1) / NR * NR;
  const int64_t MB = 4096 / MR * MR;  // rows of A packed at once (bounds the A buffer)
  // Note [Unpacked B]: with at most two A micro-panels, each B panel is read once or twice, so
  // packing it costs more than it saves: the kernel reads full-width panels of B in place (rows
  // of B contiguous) and only a last, narrower panel is packed (a kernel reads NR columns) unless
  // the caller's B has readable columns past N (a convolution's padded im2col buffer).
  const bool direct_b = b_cs == 1 && M <= 2 * MR;
  const int64_t Mpad = (M + MR - 1) / MR * MR;

  Scratch local;
  Scratch& scratch = tls_scratch.busy ? local : tls_scratch;
  scratch.busy = true;
  struct Release {
    Scratch& s;
    ~Release() { s.busy = false; }
  } release{scratch};
  T* bp = static_cast<T*>(scratch.b.get(sizeof(T) * KC * (direct_b ? NR : NC)));
  T* ap = prepacked != nullptr ? nullptr : static_cast<T*>(scratch.a.get(sizeof(T) * KC * std::min(MB, Mpad)));

  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    const int64_t np = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const bool beta = accumulate || pc > 0;
      // where B panel t of this block is read from, and its row stride
      auto b_panel = [&](int64_t t, int64_t& ldb) -> const T* {
        if (direct_b && jc + (t + 1) * NR <= b_readable) {
          ldb = b_rs;
          return B + pc * b_rs + jc + t * NR;
        }
        ldb = NR;
        return bp + (direct_b ? 0 : t * kc * NR);
      };
      for (int64_t ib = 0; ib < M; ib += MB) {
        const int64_t mb = std::min(MB, M - ib);
        const int64_t mp = (mb + MR - 1) / MR;
        // pack: B panels only with the first row block (with direct_b, only a narrow last one), then
        // this block's A panels
        const int64_t bfirst = ib > 0 ? np : direct_b ? std::min(np, (b_readable - jc) / NR) : 0;
        const int64_t bpanels = ib > 0 ? 0 : np - bfirst;
        const T* apanels = prepacked != nullptr ? prepacked + pc * Mpad + ib * kc : ap;
        const int64_t apack = prepacked != nullptr ? 0 : mp;
        auto pack = [&](int64_t t) {
          if (t < bpanels) {
            const int64_t panel = bfirst + t;
            pack_b(B + pc * b_rs + (jc + panel * NR) * b_cs, b_rs, b_cs, kc, std::min<int64_t>(NR, nc - panel * NR),
                   NR, bp + (direct_b ? 0 : panel * kc * NR));
          } else {
            const int64_t p = t - bpanels;
            pack_a(A + (ib + p * MR) * a_rs + pc * a_cs, a_rs, a_cs, std::min<int64_t>(MR, mb - p * MR), kc, MR,
                   ap + p * kc * MR);
          }
        };
        if (par) {
          tbb::parallel_for(tbb::blocked_range<int64_t>(0, bpanels + apack, 4),
                            [&](const tbb::blocked_range<int64_t>& r) {
                              for (int64_t t = r.begin(); t < r.end(); ++t) pack(t);
                            });
        } else {
          for (int64_t t = 0; t < bpanels + apack; ++t) pack(t);
        }
        // compute: tiles of (A panel range) x (B panel range)
        const int64_t target = par ? 4 * threads : 1;
        const int64_t tm = std::min(mp, target);
        const int64_t tn = std::min(np, (target + tm - 1) / tm);
        auto tile = [&](int64_t t) {
          const int64_t r0 = (t / tn) * mp / tm, r1 = (t / tn + 1) * mp / tm;
          const int64_t c0 = (t % tn) * np / tn, c1 = (t % tn + 1) * np / tn;
          for (int64_t ir = r0; ir < r1; ++ir) {
            const int64_t row = ib + ir * MR;
            const int rows = static_cast<int>(std::min<int64_t>(MR, M - row));
            for (int64_t jr = c0; jr < c1; ++jr) {
              const int64_t col = jc + jr * NR;
              const int cols = static_cast<int>(std::min<int64_t>(NR, N - col));
              int64_t ldb = 0;
              const T* b = b_panel(jr, ldb);
              uk.run(kc, apanels + ir * kc * MR, b, ldb, C + row * ldc + col, ldc, beta, rows, cols);
            }
          }
        };
        if (par && tm * tn > 1) {
          tbb::parallel_for(tbb::blocked_range<int64_t>(0, tm * tn, 1),
                            [&](const tbb::blocked_range<int64_t>& r) {
                              for (int64_t t = r.begin(); t < r.end(); ++t) tile(t);
                            },
                            tbb::simple_partitioner());
        } else {
          for (int64_t t = 0; t < tm * tn; ++t) tile(t);
        }
      }
    }
  }
}

template <class T>
MicroKernel<T> choose(MicroKernel<T> (*avx512)(), MicroKernel<T> (*avx2)(), MicroKernel<T> (*generic)()) {
  switch (cpu_isa()) {
    case Isa::avx512: return avx512();
    case Isa::avx2: return avx2();
    default: return generic();
  }
}

}  // namespace

const MicroKernel<float>& sgemm_kernel() {
  static const MicroKernel<float> k = choose(sgemm_kernel_avx512, sgemm_kernel_avx2, sgemm_kernel_generic);
  return k;
}
const MicroKernel<double>& dgemm_kernel() {
  static const MicroKernel<double> k = choose(dgemm_kernel_avx512, dgemm_kernel_avx2, dgemm_kernel_generic);
  return k;
}
const char* gemm_isa() { return sgemm_kernel().isa; }

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t a_rs, int64_t a_cs, const T* B, int64_t b_rs,
          int64_t b_cs, T* C, int64_t ldc, bool accumulate, bool parallel) {
  gemm_impl<T>(M, N, K, A, a_rs, a_cs, nullptr, B, b_rs, b_cs, N, C, ldc, accumulate, parallel);
}

// Layout: for each depth block starting at pc (depth kc), the MR-row micro-panels of all of A,
// panel p at pc * Mpad + p * kc * MR: what gemm_impl packs per call, kept.
template <class T>
PackedA<T>::PackedA(int64_t M, int64_t K, const T* A, int64_t a_rs, int64_t a_cs) : rows_(M), depth_(K) {
  const MicroKernel<T>& uk = kernel_for<T>();
  const int MR = uk.mr;
  const int64_t Mpad = (M + MR - 1) / MR * MR;
  data_.resize(static_cast<size_t>(std::max<int64_t>(0, K) * Mpad));
  if (M <= 0 || K <= 0) return;
  const int64_t KC = depth_block(K, uk);
  for (int64_t pc = 0; pc < K; pc += KC) {
    const int64_t kc = std::min(KC, K - pc);
    for (int64_t p = 0; p * MR < M; ++p)
      pack_a(A + p * MR * a_rs + pc * a_cs, a_rs, a_cs, std::min<int64_t>(MR, M - p * MR), kc, MR,
             data_.data() + pc * Mpad + p * kc * MR);
  }
}

template <class T>
void gemm(const PackedA<T>& A, int64_t N, const T* B, int64_t b_rs, int64_t b_cs, int64_t b_readable, T* C,
          int64_t ldc, bool accumulate, bool parallel) {
  gemm_impl<T>(A.rows(), N, A.depth(), nullptr, 0, 0, A.data(), B, b_rs, b_cs, std::max(b_readable, N), C, ldc,
               accumulate, parallel);
}

template void gemm<float>(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*, int64_t, int64_t,
                          float*, int64_t, bool, bool);
template void gemm<double>(int64_t, int64_t, int64_t, const double*, int64_t, int64_t, const double*, int64_t,
                           int64_t, double*, int64_t, bool, bool);
template class PackedA<float>;
template class PackedA<double>;
template void gemm<float>(const PackedA<float>&, int64_t, const float*, int64_t, int64_t, int64_t, float*, int64_t,
                          bool, bool);
template void gemm<double>(const PackedA<double>&, int64_t, const double*, int64_t, int64_t, int64_t, double*,
                           int64_t, bool, bool);

}  // namespace kiln::tbbk
