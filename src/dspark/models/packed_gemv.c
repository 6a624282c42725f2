/* The fused dequantize-and-multiply behind packed weights (dspark/models/packed.py): y = x @ W^T
 * for W [N, K] stored as 32-wide blocks  W[n, 32b + t] = scale[n, b] * q[n, 32b + t] + low[n, b]
 * with unsigned 4- or 8-bit q: the block-affine form GGUF quantizations store (Q4_0, Q4_1, Q8_0,
 * the 32-wide sub-blocks of the K-quants). Decoding a few rows is bound by reading the weights, and
 * q takes 4 or 8 bits per weight where the dequantized fp32 copy takes 32.
 *
 * Each weight is rebuilt in fp32 as fma(q, scale, low), one rounding of the exact value: the same
 * float the dequantized checkpoint holds (packed.py keeps a matrix only when that is so). Only the
 * order of the fp32 sums differs from a BLAS product.
 *
 * Layout: per output row n, groups of G = 8 * (32 / bits) weights (64 for 4-bit, 32 for 8-bit) in
 * eight 32-bit words; bit field j of word i holds q[g * G + 8 * j + i]. One shift and one mask turn
 * the eight words into the eight consecutive weights 8j .. 8j + 7, with no byte shuffles.
 * Threads split the output rows (OpenMP; in a process that imported torch this is torch's own
 * libgomp, so the two share one thread pool).
 */
#include <immintrin.h>
#include <stdint.h>

#define BLOCK 32
#define INLINE static inline __attribute__((always_inline))

INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Rows [m0, m0 + ROWS) of y, column n. ACC independent accumulators per row keep the FMA
 * latency hidden when there are few rows. */
INLINE void tile(const float *x, int64_t K, const uint32_t *qn, const float *sn, const float *ln,
                 int bits, int64_t m0, int ROWS, int ACC, float *y, int64_t N, int64_t n) {
    const int fields = 32 / bits, group = 8 * fields;
    const __m256i mask = _mm256_set1_epi32((1 << bits) - 1);
    __m256 acc[8];
    for (int a = 0; a < ROWS * ACC; a++) acc[a] = _mm256_setzero_ps();
    for (int64_t g = 0; g < K / group; g++) {
        const __m256i words = _mm256_loadu_si256((const __m256i *)(qn + 8 * g));
#pragma GCC unroll 8
        for (int j = 0; j < fields; j++) {
            const int64_t b = g * (group / BLOCK) + (8 * j) / BLOCK;
            const __m256i qi = _mm256_and_si256(_mm256_srli_epi32(words, bits * j), mask);
            const __m256 w = _mm256_fmadd_ps(_mm256_cvtepi32_ps(qi), _mm256_set1_ps(sn[b]),
                                             _mm256_set1_ps(ln[b]));
            const float *xg = x + m0 * K + g * group + 8 * j;
#pragma GCC unroll 8
            for (int r = 0; r < ROWS; r++) {
                __m256 *a = &acc[r * ACC + j % ACC];
                *a = _mm256_fmadd_ps(_mm256_loadu_ps(xg + r * K), w, *a);
            }
        }
    }
    for (int r = 0; r < ROWS; r++) {
        __m256 s = acc[r * ACC];
        for (int a = 1; a < ACC; a++) s = _mm256_add_ps(s, acc[r * ACC + a]);
        y[(m0 + r) * N + n] = hsum(s);
    }
}

/* Column n of y for every row of x; `bits` is a constant in each caller, so each case unrolls. */
INLINE void column(const float *x, int64_t M, int64_t K, const uint32_t *qn, const float *sn,
                   const float *ln, int bits, float *y, int64_t N, int64_t n) {
    int64_t m = 0;
    for (; m + 8 <= M; m += 8) tile(x, K, qn, sn, ln, bits, m, 8, 1, y, N, n);
    switch (M - m) {
        case 7: tile(x, K, qn, sn, ln, bits, m, 7, 1, y, N, n); break;
        case 6: tile(x, K, qn, sn, ln, bits, m, 6, 1, y, N, n); break;
        case 5: tile(x, K, qn, sn, ln, bits, m, 5, 1, y, N, n); break;
        case 4: tile(x, K, qn, sn, ln, bits, m, 4, 2, y, N, n); break;
        case 3: tile(x, K, qn, sn, ln, bits, m, 3, 2, y, N, n); break;
        case 2: tile(x, K, qn, sn, ln, bits, m, 2, 4, y, N, n); break;
        case 1: tile(x, K, qn, sn, ln, bits, m, 1, 4, y, N, n); break;
        default: break;
    }
}

/* x [M, K] and y [M, N] row-major fp32; q [N, K * bits / 32] words; scale, low [N, K / 32]. */
void packed_gemv(const float *x, int64_t M, int64_t K, const uint32_t *q, const float *scale,
                 const float *low, int64_t N, int bits, float *y, int nthreads) {
    const int64_t words = K * bits / 32, nb = K / BLOCK;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const uint32_t *qn = q + n * words;
        const float *sn = scale + n * nb, *ln = low + n * nb;
        if (bits == 4) column(x, M, K, qn, sn, ln, 4, y, N, n);
        else column(x, M, K, qn, sn, ln, 8, y, N, n);
    }
}
