/* The CPU runtime behind the fast precision mode (dspark/models/runtime.py): integer matrix
 * products over the GGUF's 4/8-bit weight blocks, causal attention over the KV cache, and the
 * thread pool both run on.
 *
 * Arithmetic (the GGUF as llama.cpp runs it): each row of activations is quantized to 8 bits in
 * 32-wide blocks, x[32b + t] ~ dx[b] * qx[32b + t] with qx in [-127, 127]. A weight block is
 * w[32b + t] = S[b] * q[32b + t] + L[b] with unsigned 4- or 8-bit q (Q4_0/Q4_1/Q5_x/Q8_0 and the
 * K-quants' 32-wide sub-blocks, recovered by packed.py). So
 *     sum_t w x = dx * (S * sum_t(q qx) + L * sum_t(qx)),
 * where both inner sums are exact integers. Every output element then takes the SAME sequence of
 * float operations on every code path and for any number of rows:
 *     t = fma(L, sx, float(isum) * S);   acc = fma(dx, t, acc);   (blocks in order)
 * so a row's result does not depend on how many rows share the call (batch invariance: a token's
 * logits are bit-equal in a decode step and inside a verification), nor on the instruction set
 * (AVX-512 VNNI, AVX-VNNI, AVX2, portable C: tested bit-equal to each other).
 *
 * Weight layout ("tiles"): 16 output rows n of W [N, K] side by side. For tile t and block b the
 * 16 x 32 weights take 64-byte chunks; 32-bit lane j of a chunk belongs to row 16t + j:
 *   4-bit: 4 chunks; byte i of lane j in chunk c holds q[32b + 8c + i] in its low nibble and
 *          q[32b + 8c + 4 + i] in its high nibble;
 *   8-bit: 8 chunks; byte i of lane j in chunk c holds q[32b + 4c + i].
 * So one load and a mask give, for 16 rows at once, the 4 consecutive weights that one 8-bit dot
 * instruction (vpdpbusd / vpmaddubsw) multiplies with 4 broadcast activation bytes; each chunk is
 * unpacked once for all the rows of a register tile. S and L are [tiles, blocks, 16], in one of
 * three forms (packed.py compact_scales), all read as the same fp32 values, so every form computes
 * the same bits: fp32 both; fp16 both (GGUF's Q4_0/Q4_1/Q5_x store them so); or S fp16 and
 * L = S * k with k an int8 (Q8_0: L = d * the block's smallest q). A one-row product is bound by
 * what it reads, and fp32 scales and lows were a third of a 4-bit matrix's bytes. The functions'
 * `bits` argument (and the `bits` fields of layer_t and draft_t) carry bits | form << 8.
 *
 * Threads: a small pool of our own (not OpenMP). Work is split into many tasks that threads claim
 * from an atomic counter, and the calling thread works too: when the machine is busy and a worker
 * does not get a core, the others take its share instead of waiting at a barrier for it. Idle
 * workers spin briefly, then sleep on a futex.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define INLINE static inline __attribute__((always_inline))
#define BLOCK 32
#define TILE 16

/* ------------------------------------------------------------ scratch buffers ------------- */

/* A call's temporaries come from grow-only buffers of the calling thread, one per nesting level
 * (a forward's rows, a layer's, a product's, an attention's). With malloc and free per call, a
 * 512-token prefill took and gave back ~15 MB a layer; glibc handed each large block back to the
 * kernel at free, so every layer paid its first-touch page faults again: ~150k faults a forward,
 * a quarter of a 512- or 1,024-token prefill's time (RESULTS.md, session 42); a sampled row's 49k
 * probabilities (196 KB) were past glibc's threshold too. The largest call so far sets a thread's
 * sizes; they last as long as the thread. */
enum { SCRATCH_FORWARD, SCRATCH_LAYER, SCRATCH_PRODUCT, SCRATCH_ATTENTION, SCRATCH_ROW, SCRATCH_SAMPLE,
       SCRATCH_NUCLEUS, SCRATCH_LEVELS };
static __thread struct { char *p; size_t size; } scratch_[SCRATCH_LEVELS];

/* The next `bytes` of a buffer being carved, each part 64-byte aligned (the buffer is). */
INLINE size_t carve_size(size_t bytes) { return (bytes + 63) / 64 * 64; }
INLINE void *carve(char **mem, size_t bytes) {
    void *p = *mem;
    *mem += carve_size(bytes);
    return p;
}

/* The level's buffer, at least `bytes` long, 64-byte aligned: at malloc's 16 the carved parts could
 * start inside a cache line, and every 64-byte vector load and store of them would touch two. */
static char *scratch(int level, size_t bytes) {
    if (bytes > scratch_[level].size) {
        free(scratch_[level].p);
        scratch_[level].size = carve_size(bytes + bytes / 4);   /* room to grow a little */
        void *p = NULL;
        if (posix_memalign(&p, 64, scratch_[level].size)) abort();
        scratch_[level].p = p;
    }
    return scratch_[level].p;
}

/* ---------------------------------------------------------------- thread pool ------------- */

#define MAX_THREADS 64
#define SPIN_ROUNDS 4000    /* pause instructions an idle worker spins before sleeping (~0.05-0.2 ms) */

typedef void (*task_fn)(const void *ctx, int64_t task);

static struct {
    int workers;                      /* started worker threads */
    int active;                       /* threads a job may use, caller included */
    _Atomic uint32_t gen;             /* futex word, bumped for every job */
    _Atomic uint64_t claim;           /* gen (16 bits) | ntasks (24) | next task (24) */
    _Atomic int64_t done;             /* tasks of the current job finished */
    _Atomic int sleeping;
    task_fn fn;
    const void *ctx;
    pthread_mutex_t lock;             /* one job at a time, whatever Python thread calls */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define CLAIM(g, n, next) (((uint64_t)((g) & 0xffff) << 48) | ((uint64_t)(n) << 24) | (uint64_t)(next))

static void run_tasks(uint32_t g) {
    for (;;) {
        uint64_t c = atomic_load(&pool.claim);
        int64_t next = (int64_t)(c & 0xffffff), n = (int64_t)((c >> 24) & 0xffffff);
        if ((c >> 48) != (g & 0xffff) || next >= n) return;
        if (!atomic_compare_exchange_weak(&pool.claim, &c, c + 1)) continue;
        pool.fn(pool.ctx, next);      /* the job cannot end while this task is outstanding */
        atomic_fetch_add(&pool.done, 1);
    }
}

static void *worker(void *arg) {
    int index = (int)(intptr_t)arg;
    uint32_t seen = atomic_load(&pool.gen);
    for (;;) {
        uint32_t g;
        int spins = 0;
        while ((g = atomic_load(&pool.gen)) == seen) {
            if (++spins < SPIN_ROUNDS) { CPU_RELAX(); continue; }
            atomic_fetch_add(&pool.sleeping, 1);
            syscall(SYS_futex, &pool.gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
            atomic_fetch_sub(&pool.sleeping, 1);
            spins = 0;
        }
        seen = g;
        if (index < pool.active - 1) run_tasks(g);
    }
    return NULL;
}

/* Threads used by later calls (the caller included); returns the number in effect. */
int rt_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    pthread_mutex_lock(&pool.lock);
    while (pool.workers < n - 1) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)pool.workers) != 0) break;
        pthread_detach(t);
        pool.workers++;
    }
    pool.active = pool.workers + 1 < n ? pool.workers + 1 : n;
    pthread_mutex_unlock(&pool.lock);
    return pool.active;
}

static void parallel(task_fn fn, const void *ctx, int64_t ntasks) {
    if (ntasks <= 0) return;
    if (pool.active <= 1 || ntasks == 1) {
        for (int64_t i = 0; i < ntasks; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store(&pool.done, 0);
    uint32_t g = atomic_load(&pool.gen) + 1;
    atomic_store(&pool.claim, CLAIM(g, ntasks, 0));
    atomic_store(&pool.gen, g);
    if (atomic_load(&pool.sleeping) > 0)
        syscall(SYS_futex, &pool.gen, FUTEX_WAKE_PRIVATE, MAX_THREADS, NULL, NULL, 0);
    run_tasks(g);
    /* Only tasks a worker already claimed are left: wait for those alone. */
    for (int spins = 0; atomic_load(&pool.done) < ntasks; spins++) {
        if (spins < 2000) CPU_RELAX();
        else sched_yield();
    }
    pthread_mutex_unlock(&pool.lock);
}

/* Split `items` into about 8 tasks per thread (dynamic balance without too many claims). */
INLINE int64_t per_task(int64_t items) {
    int64_t want = 8 * (int64_t)(pool.active > 0 ? pool.active : 1);
    int64_t k = (items + want - 1) / want;
    return k < 1 ? 1 : k;
}

/* ------------------------------------------------------------ optional timers ------------- */

/* Built with -DRT_PROFILE (runtime.profiling_lib; benchmarks/step_profile.py), the layer, forward
 * and drafting-round calls add the wall time of their parts into prof_spent, which
 * rt_profile_read hands out and zeroes: where a forward goes, now that all of it is one C call.
 * The parts of a drafter's layers count as the round's, not the target's. Without the flag the
 * laps compile to nothing. */
enum { PROF_QKV, PROF_ATTENTION, PROF_O, PROF_GATE_UP, PROF_GATE, PROF_DOWN, PROF_HEAD, PROF_DRAFT_CONTEXT,
       PROF_DRAFT_LAYERS, PROF_DRAFT_HEAD, PROF_DRAFT_MARKOV, PROF_PARTS };
#ifdef RT_PROFILE
#include <time.h>
static double prof_spent[PROF_PARTS];
static int prof_drafting;            /* inside rt_draft_round: its layers are its own part */
static double prof_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
#define PROF_START() double prof_t0 = prof_now()
#define PROF_LAP(part) do { const double prof_t = prof_now(); prof_spent[part] += prof_t - prof_t0; \
                            prof_t0 = prof_t; } while (0)
#define PROF_LAYER_LAP(part) do { if (!prof_drafting) PROF_LAP(part); } while (0)
#define PROF_DRAFTING(on) (prof_drafting = (on))
/* Seconds per part (the PROF_* order) since the last call into out [n], then zero; returns the
 * number of parts (0 in a build without timers). */
int rt_profile_read(double *out, int n) {
    for (int i = 0; i < PROF_PARTS && i < n; i++) {
        out[i] = prof_spent[i];
        prof_spent[i] = 0.0;
    }
    return PROF_PARTS;
}
#else
#define PROF_START() ((void)0)
#define PROF_LAP(part) ((void)0)
#define PROF_LAYER_LAP(part) ((void)0)
#define PROF_DRAFTING(on) ((void)0)
int rt_profile_read(double *out, int n) { (void)out; (void)n; return 0; }
#endif

/* ------------------------------------------------------- activation quantization ------------ */

/* Rows of x [M, K] (optionally RMS-normalized with weight nw first) -> qx int8 [M, K], dx fp32
 * [M, K/32], sxf [M, K/32] (the block sums of qx, exact in fp32).
 *
 * Written once over 16-lane vectors (GCC vector extensions) and compiled for each instruction set:
 * every operation is lane-wise IEEE arithmetic in a fixed order (the RMS sum of squares in 16 lane
 * partial sums, then one fixed tree), so every path gives the same bits. Rounding to nearest even
 * adds and subtracts 1.5 * 2^23, which is exact here (|x * id| <= 127) and equals lrintf. */
typedef float qv16f __attribute__((vector_size(64)));
typedef int32_t qv16i __attribute__((vector_size(64)));
typedef int8_t qv16b __attribute__((vector_size(16)));

INLINE qv16f qload(const float *p) { qv16f v; memcpy(&v, p, sizeof v); return v; }
INLINE qv16f qabs(qv16f v) { return (qv16f)((qv16i)v & 0x7fffffff); }
INLINE qv16f qmax(qv16f a, qv16f b) { const qv16i m = a > b; return (qv16f)(((qv16i)a & m) | ((qv16i)b & ~m)); }

/* y [K] = rmsnorm(x) * nw: the sum of squares in 16 lane partial sums, then one fixed tree, so
 * every path gives the same bits (inlined into each path's quantizer; also a drafter's final norm,
 * rms_rows). */
INLINE void rms_row(const float *x, int64_t K, const float *nw, float eps, float *y) {
    qv16f acc = {0};
    for (int64_t k = 0; k < K; k += 16) {
        const qv16f v = qload(x + k);
        acc = acc + v * v;
    }
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) acc[i] = acc[i] + acc[i + w];
    const float r = 1.0f / sqrtf(acc[0] / (float)K + eps);
    for (int64_t k = 0; k < K; k += 16) {
        const qv16f v = (qload(x + k) * r) * qload(nw + k);
        memcpy(y + k, &v, sizeof v);
    }
}

#define QUANTIZE_ROWS(NAME, TARGET)                                                                 \
TARGET static void NAME(const float *x, int64_t M, int64_t K, const float *nw, float eps,          \
                        int8_t *qx, float *dx, float *sxf) {                                       \
    float *tmp = nw ? malloc(sizeof(float) * K) : NULL;                                            \
    const int64_t nb = K / BLOCK;                                                                  \
    const qv16f magic = (qv16f){0} + 12582912.0f;                                                  \
    for (int64_t m = 0; m < M; m++) {                                                              \
        const float *xr = x + m * K;                                                               \
        if (nw) {                                                                                  \
            rms_row(xr, K, nw, eps, tmp);                                                          \
            xr = tmp;                                                                              \
        }                                                                                          \
        for (int64_t b = 0; b < nb; b++) {                                                         \
            const qv16f lo = qload(xr + b * BLOCK), hi = qload(xr + b * BLOCK + 16);               \
            qv16f mx = qmax(qabs(lo), qabs(hi));                                                   \
            float amax = 0.0f;                              /* max: exact in any order */          \
            for (int i = 0; i < 16; i++) amax = mx[i] > amax ? mx[i] : amax;                       \
            const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;                \
            const qv16i q0 = __builtin_convertvector((lo * id + magic) - magic, qv16i);            \
            const qv16i q1 = __builtin_convertvector((hi * id + magic) - magic, qv16i);            \
            const qv16b b0 = __builtin_convertvector(q0, qv16b);  /* |q| <= 127: no clamp needed */ \
            const qv16b b1 = __builtin_convertvector(q1, qv16b);                                   \
            memcpy(qx + m * K + b * BLOCK, &b0, 16);                                               \
            memcpy(qx + m * K + b * BLOCK + 16, &b1, 16);                                          \
            const qv16i q01 = q0 + q1;                                                             \
            int32_t s = 0;                                                                         \
            for (int t = 0; t < 16; t++) s += q01[t];                                              \
            dx[m * nb + b] = d;                                                                    \
            sxf[m * nb + b] = (float)s;                     /* exact (|s| <= 32 * 127) */          \
        }                                                                                          \
    }                                                                                              \
    free(tmp);                                                                                     \
}

QUANTIZE_ROWS(quantize_rows_generic, )
#if defined(__x86_64__)
QUANTIZE_ROWS(quantize_rows_avx2, __attribute__((target("avx2,fma"))))
QUANTIZE_ROWS(quantize_rows_avx512, __attribute__((target("avx512f,avx512bw,avx512vl"))))
#endif

/* ------------------------------------------------------------- matrix products ------------- */

/* An fp16 number widened exactly (portable; F16C and AVX-512 do the same in hardware): the
 * compact scales' and the KV cache's entries. */
INLINE float f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    uint32_t x;
    if (e == 0) {
        const float f = (float)m * 5.9604645e-8f;            /* m * 2^-24, exact */
        memcpy(&x, &f, 4);
        x |= sign;
    } else {
        x = sign | (e == 31 ? 0x7f800000u | (m << 13) : ((e + 112) << 23) | (m << 13));
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

typedef struct {
    const int8_t *qx; const float *dx; const float *sxf;
    int64_t M, K, N;
    /* The same three, rows in groups of 8 (the last group the rest) for the AVX-512 tiles: the group
     * of R rows from row m0 on holds, from byte m0 * K (float m0 * K / 32) on, its rows' 4-byte
     * chunks side by side, [K / 4][R] (and [K / 32][R]). A register tile then finds every value it
     * broadcasts at a constant offset from one pointer: with a pointer per row, the 8-row tile
     * spent more instructions on addresses, spills and reloads than on its products. With one row
     * they are qx, dx and sxf themselves. */
    const int8_t *qxi; const float *dxi, *sxi;
    const uint8_t *w; const void *S, *L;
    int bits, sform;             /* sform: how S and L are stored (SCALES_*) */
    const float *bias, *residual;
    float *y;
    const int64_t *first;        /* task i: tiles first[i] .. first[i + 1] - 1 (split_tiles) */
} qmm_t;

INLINE int64_t tile_bytes(const qmm_t *c) { return (c->K / BLOCK) * (TILE * BLOCK * c->bits / 8); }

enum { SCALES_F32 = 0, SCALES_F16 = 1, SCALES_F16_K8 = 2 };   /* L: fp32, fp16, S * int8 */
INLINE int scale_bytes(int sform) { return sform == SCALES_F32 ? 4 : 2; }
INLINE int low_bytes(int sform) { return sform == SCALES_F32 ? 4 : sform == SCALES_F16 ? 2 : 1; }

/* S and L of entry i (portable path); the SIMD paths read the same values 8 or 16 at a time. An
 * fp16 times an int8 is exact in fp32, so L = S * k is the fp32 low the form was made from. */
INLINE void scales_at(const qmm_t *c, int64_t i, float *s, float *l) {
    if (c->sform == SCALES_F32) {
        *s = ((const float *)c->S)[i];
        *l = ((const float *)c->L)[i];
        return;
    }
    *s = f16_to_f32(((const uint16_t *)c->S)[i]);
    *l = c->sform == SCALES_F16 ? f16_to_f32(((const uint16_t *)c->L)[i]) : *s * (float)((const int8_t *)c->L)[i];
}

/* Products of several rows read each weight block once and then spend several times longer on it
 * than one row does; the hardware prefetchers stop keeping ahead of that slower stream. Asking for
 * the weights and scales 16 blocks ahead (about one tile at K = 576) made the 120 products of a
 * SmolLM2 forward 1.16-1.28x faster at 2-16 rows on the 2-core EPYC (Zen 5), weights from DRAM
 * (RESULTS.md, session 16). One row gained from it only once its tasks were long (split_tiles).
 * Addresses past the arrays' ends are fine: a prefetch never faults. */
#define PREFETCH_BLOCKS 16
INLINE void prefetch_block(const qmm_t *c, int64_t t, int64_t b, int cb) {
    const uintptr_t w = (uintptr_t)c->w + (uintptr_t)(t * tile_bytes(c) + (b + PREFETCH_BLOCKS) * cb);
    for (int i = 0; i < cb; i += 64) __builtin_prefetch((const void *)(w + i));
    const int64_t sl = (t * (c->K / BLOCK) + b + PREFETCH_BLOCKS) * TILE;
    __builtin_prefetch((const void *)((uintptr_t)c->S + sl * scale_bytes(c->sform)));
    __builtin_prefetch((const void *)((uintptr_t)c->L + sl * low_bytes(c->sform)));
}

/* The float epilogue of a finished 16-wide output: (acc + bias) + residual. */
INLINE void finish_scalar(const qmm_t *c, int64_t m, int64_t n0, const float *acc) {
    for (int j = 0; j < TILE; j++) {
        float v = acc[j];
        if (c->bias) v += c->bias[n0 + j];
        if (c->residual) v += c->residual[m * c->N + n0 + j];
        c->y[m * c->N + n0 + j] = v;
    }
}

/* Portable reference: the same integer sums and the same float operations as the SIMD paths. */
static void qmm_task_generic(const void *ctx, int64_t task) {
    const qmm_t *c = ctx;
    const int64_t nb = c->K / BLOCK, tb = tile_bytes(c);
    for (int64_t t = c->first[task]; t < c->first[task + 1]; t++) {
        for (int64_t m = 0; m < c->M; m++) {
            float acc[TILE] = {0};
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *wb = c->w + t * tb + b * (TILE * BLOCK * c->bits / 8);
                const int8_t *xb = c->qx + m * c->K + b * BLOCK;
                for (int j = 0; j < TILE; j++) {
                    int32_t isum = 0;
                    for (int k = 0; k < BLOCK; k++) {
                        int q;
                        if (c->bits == 4) {
                            const int ch = k / 8, i = k % 8;
                            const uint8_t byte = wb[ch * 64 + j * 4 + (i & 3)];
                            q = i < 4 ? (byte & 15) : (byte >> 4);
                        } else {
                            q = wb[(k / 4) * 64 + j * 4 + (k & 3)];
                        }
                        isum += q * xb[k];
                    }
                    float s, l;
                    scales_at(c, (t * nb + b) * TILE + j, &s, &l);
                    const float tv = fmaf(l, c->sxf[m * nb + b], (float)isum * s);
                    acc[j] = fmaf(c->dx[m * nb + b], tv, acc[j]);
                }
            }
            finish_scalar(c, m, t * TILE, acc);
        }
    }
}

#if defined(__x86_64__)

/* ---- AVX-512 VNNI: one 16-lane register holds a tile's 16 outputs; RT rows per register tile -- */
#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))

T512 INLINE void scales_512(const qmm_t *c, int64_t i, __m512 *s, __m512 *l) {
    if (c->sform == SCALES_F32) {
        *s = _mm512_loadu_ps((const float *)c->S + i);
        *l = _mm512_loadu_ps((const float *)c->L + i);
        return;
    }
    *s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)c->S + i)));
    *l = c->sform == SCALES_F16
        ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)c->L + i)))
        : _mm512_mul_ps(*s, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
              _mm_loadu_si128((const __m128i *)((const int8_t *)c->L + i)))));
}

/* isum += the 4-byte dot products of w's unsigned bytes with the signed bytes at p, broadcast to every
 * lane: vpdpbusd with its memory operand broadcast. Written as one instruction because GCC, given the
 * broadcast as an intrinsic, hoisted the 5-7-row tiles' 40-56 broadcasts into registers it then spilled
 * (those tiles ran 0.75-0.88x the speed of the 8-row tile's code per row). */
#define DPBUSD_BCAST(isum, w, p) \
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(isum) : "v"(w), "m"(*(const int32_t *)(p)))

T512 INLINE void tile_512(const qmm_t *c, int64_t t, int64_t m0, const int RT) {
    const int64_t nb = c->K / BLOCK, K = c->K, N = c->N;
    const int cb = TILE * BLOCK * c->bits / 8;
    const uint8_t *wt = c->w + t * tile_bytes(c);
    const __m512i low4 = _mm512_set1_epi8(15);
    const int prefetch = m0 == 0;   /* the first row group reads the tile from memory */
    const int8_t *xg = c->qxi + m0 * K;                        /* the row group's interleaved copies */
    const float *dg = c->dxi + m0 * nb, *sg = c->sxi + m0 * nb;
    /* arrays of a constant size (RT is one where inlined): sized by RT they were variable-length
     * arrays, which GCC kept on the stack, stored and reloaded every block */
    __m512 acc[8];
    for (int r = 0; r < RT; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        if (prefetch) prefetch_block(c, t, b, cb);
        __m512i isum[8];
        for (int r = 0; r < RT; r++) isum[r] = _mm512_setzero_si512();
        const uint8_t *wb = wt + b * cb;
        const int32_t *xb = (const int32_t *)(xg + b * BLOCK * RT);   /* chunk j of row r: xb[j * RT + r] */
        if (c->bits == 4) {
            for (int ch = 0; ch < 4; ch++) {
                const __m512i v = _mm512_loadu_si512(wb + 64 * ch);
                const __m512i lo = _mm512_and_si512(v, low4);
                const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
                for (int r = 0; r < RT; r++) {
                    DPBUSD_BCAST(isum[r], lo, xb + 2 * ch * RT + r);
                    DPBUSD_BCAST(isum[r], hi, xb + (2 * ch + 1) * RT + r);
                }
            }
        } else {
            for (int ch = 0; ch < 8; ch++) {
                const __m512i v = _mm512_loadu_si512(wb + 64 * ch);
                for (int r = 0; r < RT; r++) DPBUSD_BCAST(isum[r], v, xb + ch * RT + r);
            }
        }
        __m512 s, l;
        scales_512(c, (t * nb + b) * TILE, &s, &l);
        for (int r = 0; r < RT; r++) {
            const int64_t i = b * RT + r;
            const __m512 tv = _mm512_fmadd_ps(l, _mm512_set1_ps(sg[i]),
                                              _mm512_mul_ps(_mm512_cvtepi32_ps(isum[r]), s));
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(dg[i]), tv, acc[r]);
        }
    }
    for (int r = 0; r < RT; r++) {
        const int64_t m = m0 + r, n0 = t * TILE;
        __m512 v = acc[r];
        if (c->bias) v = _mm512_add_ps(v, _mm512_loadu_ps(c->bias + n0));
        if (c->residual) v = _mm512_add_ps(v, _mm512_loadu_ps(c->residual + m * N + n0));
        _mm512_storeu_ps(c->y + m * N + n0, v);
    }
}

T512 static void qmm_task_avx512vnni(const void *ctx, int64_t task) {
    const qmm_t *c = ctx;
    for (int64_t t = c->first[task]; t < c->first[task + 1]; t++) {
        int64_t m = 0;
        for (; m + 8 <= c->M; m += 8) tile_512(c, t, m, 8);
        switch (c->M - m) {
            case 7: tile_512(c, t, m, 7); break;
            case 6: tile_512(c, t, m, 6); break;
            case 5: tile_512(c, t, m, 5); break;
            case 4: tile_512(c, t, m, 4); break;
            case 3: tile_512(c, t, m, 3); break;
            case 2: tile_512(c, t, m, 2); break;
            case 1: tile_512(c, t, m, 1); break;
            default: break;
        }
    }
}

/* ---- 256-bit paths: a tile is two 8-lane halves; AVX-VNNI (vpdpbusd) or AVX2 (vpmaddubsw) ---- */
#define T256 __attribute__((target("avx2,fma,f16c")))
#define TVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

T256 INLINE void scales_256(const qmm_t *c, int64_t i, __m256 *s, __m256 *l) {
    if (c->sform == SCALES_F32) {
        *s = _mm256_loadu_ps((const float *)c->S + i);
        *l = _mm256_loadu_ps((const float *)c->L + i);
        return;
    }
    *s = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)c->S + i)));
    *l = c->sform == SCALES_F16
        ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)c->L + i)))
        : _mm256_mul_ps(*s, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
              _mm_loadl_epi64((const __m128i *)((const int8_t *)c->L + i)))));
}

/* AVX2: sums of 4 products u8 x s8 per 32-bit lane. With 4-bit (or 5-bit) weights the pairwise
 * 16-bit sums cannot saturate (2 * 31 * 127 < 32767). */
T256 INLINE __m256i dot4_avx2(__m256i w, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

/* 8-bit weights up to 255 would saturate vpmaddubsw: multiply (q - 128) through the sign trick
 * (|q - 128| <= 128 as unsigned, x with the sign of q - 128), then add back 128 * sum(x). */
T256 INLINE __m256i dot4_avx2_u8(__m256i w, __m256i x) {
    const __m256i ws = _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80));
    return dot4_avx2(_mm256_abs_epi8(ws), _mm256_sign_epi8(x, ws));
}

#define TILE_256(NAME, TARGET, DOT4, DOT4_U8, U8_OFFSET)                                           \
TARGET INLINE void NAME(const qmm_t *c, int64_t t, int h, int64_t m0, const int RT) {              \
    const int64_t nb = c->K / BLOCK, K = c->K, N = c->N;                                           \
    const int cb = TILE * BLOCK * c->bits / 8;                                                     \
    const uint8_t *wt = c->w + t * tile_bytes(c) + 32 * h;                                         \
    const __m256i low4 = _mm256_set1_epi8(15);                                                     \
    const int prefetch = m0 == 0 && h == 0;                                                        \
    __m256 acc[4];                  /* constant sizes: see tile_512 */                             \
    for (int r = 0; r < RT; r++) acc[r] = _mm256_setzero_ps();                                     \
    for (int64_t b = 0; b < nb; b++) {                                                             \
        if (prefetch) prefetch_block(c, t, b, cb);                                                 \
        __m256i isum[4];                                                                           \
        for (int r = 0; r < RT; r++) isum[r] = _mm256_setzero_si256();                             \
        const uint8_t *wb = wt + b * cb;                                                           \
        const int8_t *xb = c->qx + m0 * K + b * BLOCK;                                             \
        if (c->bits == 4) {                                                                        \
            for (int ch = 0; ch < 4; ch++) {                                                       \
                const __m256i v = _mm256_loadu_si256((const __m256i *)(wb + 64 * ch));             \
                const __m256i lo = _mm256_and_si256(v, low4);                                      \
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);                \
                for (int r = 0; r < RT; r++) {                                                     \
                    const int8_t *xr = xb + r * K + 8 * ch;                                        \
                    isum[r] = _mm256_add_epi32(isum[r], DOT4(lo, _mm256_set1_epi32(*(const int32_t *)xr))); \
                    isum[r] = _mm256_add_epi32(isum[r], DOT4(hi, _mm256_set1_epi32(*(const int32_t *)(xr + 4)))); \
                }                                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            for (int ch = 0; ch < 8; ch++) {                                                       \
                const __m256i v = _mm256_loadu_si256((const __m256i *)(wb + 64 * ch));             \
                for (int r = 0; r < RT; r++)                                                       \
                    isum[r] = _mm256_add_epi32(isum[r], DOT4_U8(v,                                 \
                        _mm256_set1_epi32(*(const int32_t *)(xb + r * K + 4 * ch))));              \
            }                                                                                      \
        }                                                                                          \
        __m256 s, l;                                                                               \
        scales_256(c, (t * nb + b) * TILE + 8 * h, &s, &l);                                        \
        for (int r = 0; r < RT; r++) {                                                             \
            const int64_t i = (m0 + r) * nb + b;                                                   \
            __m256i is = isum[r];                                                                  \
            if (U8_OFFSET && c->bits == 8)                                                         \
                is = _mm256_add_epi32(is, _mm256_set1_epi32(128 * (int32_t)c->sxf[i]));            \
            const __m256 tv = _mm256_fmadd_ps(l, _mm256_set1_ps(c->sxf[i]),                  \
                                              _mm256_mul_ps(_mm256_cvtepi32_ps(is), s));           \
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(c->dx[i]), tv, acc[r]);                        \
        }                                                                                          \
    }                                                                                              \
    for (int r = 0; r < RT; r++) {                                                                 \
        const int64_t m = m0 + r, n0 = t * TILE + 8 * h;                                           \
        __m256 v = acc[r];                                                                         \
        if (c->bias) v = _mm256_add_ps(v, _mm256_loadu_ps(c->bias + n0));                          \
        if (c->residual) v = _mm256_add_ps(v, _mm256_loadu_ps(c->residual + m * N + n0));          \
        _mm256_storeu_ps(c->y + m * N + n0, v);                                                    \
    }                                                                                              \
}                                                                                                  \
TARGET static void NAME##_task(const void *ctx, int64_t task) {                                    \
    const qmm_t *c = ctx;                                                                          \
    for (int64_t t = c->first[task]; t < c->first[task + 1]; t++)                                  \
        for (int h = 0; h < 2; h++) {                                                              \
            int64_t m = 0;                                                                         \
            for (; m + 4 <= c->M; m += 4) NAME(c, t, h, m, 4);                                     \
            switch (c->M - m) {                                                                    \
                case 3: NAME(c, t, h, m, 3); break;                                                \
                case 2: NAME(c, t, h, m, 2); break;                                                \
                case 1: NAME(c, t, h, m, 1); break;                                                \
                default: break;                                                                    \
            }                                                                                      \
        }                                                                                          \
}

TILE_256(tile_avx2, T256, dot4_avx2, dot4_avx2_u8, 1)

TVNNI INLINE __m256i dot4_vnni(__m256i w, __m256i x) {
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w, x);
}
TILE_256(tile_avxvnni, TVNNI, dot4_vnni, dot4_vnni, 0)

#endif /* __x86_64__ */

enum { PATH_GENERIC = 0, PATH_AVX2 = 1, PATH_AVXVNNI = 2, PATH_AVX512VNNI = 3 };

/* Whether this CPU runs a path. The paths do not nest: AVX-VNNI (VEX) came to Intel cores after
   AVX-512 VNNI, and AMD's Zen 4 has the AVX-512 form only, so each path checks its own instructions
   (every path above generic also uses AVX2, FMA and F16C). */
int rt_path_supported(int path) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    switch (path) {
        case PATH_GENERIC: return 1;
        case PATH_AVX2: return avx2;
        case PATH_AVXVNNI: return avx2 && __builtin_cpu_supports("avxvnni");
        case PATH_AVX512VNNI:
            return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vnni");
        default: return 0;
    }
#else
    return path == PATH_GENERIC;
#endif
}

static task_fn qmm_task(int path) {
#if defined(__x86_64__)
    switch (path) {
        case PATH_AVX512VNNI: return qmm_task_avx512vnni;
        case PATH_AVXVNNI: return tile_avxvnni_task;
        case PATH_AVX2: return tile_avx2_task;
        default: break;
    }
#endif
    return qmm_task_generic;
}

typedef struct {
    const float *x; int64_t M, K; const float *nw; float eps;
    int8_t *qx; float *dx; float *sxf;
    int32_t *qxi; float *dxi, *sxi;      /* the interleaved copies (qmm_t), or NULL: none wanted */
    int64_t rows_per_task;
    int path;
} quant_t;

static void quantize_task(const void *ctx, int64_t task) {
    const quant_t *q = ctx;
    const int64_t m0 = task * q->rows_per_task, nb = q->K / BLOCK;
    const int64_t m1 = m0 + q->rows_per_task < q->M ? m0 + q->rows_per_task : q->M;
    void (*rows)(const float *, int64_t, int64_t, const float *, float, int8_t *, float *, float *) =
        quantize_rows_generic;
#if defined(__x86_64__)
    if (q->path >= PATH_AVX512VNNI) rows = quantize_rows_avx512;
    else if (q->path != PATH_GENERIC) rows = quantize_rows_avx2;
#endif
    rows(q->x + m0 * q->K, m1 - m0, q->K, q->nw, q->eps, q->qx + m0 * q->K, q->dx + m0 * nb, q->sxf + m0 * nb);
    for (int64_t m = m0; q->qxi && m < m1; m++) {          /* row m's place in its group of 8 */
        const int64_t g0 = m / 8 * 8, r = m - g0, R = q->M - g0 < 8 ? q->M - g0 : 8, K4 = q->K / 4;
        const int32_t *src = (const int32_t *)(q->qx + m * q->K);
        for (int64_t j = 0; j < K4; j++) q->qxi[g0 * K4 + j * R + r] = src[j];
        for (int64_t b = 0; b < nb; b++) {
            q->dxi[g0 * nb + b * R + r] = q->dx[m * nb + b];
            q->sxi[g0 * nb + b * R + r] = q->sxf[m * nb + b];
        }
    }
}

/* A product's tiles as tasks, first[i] .. first[i + 1] - 1 for task i; returns the number of tasks.
 * Guided: each task takes half of what is left per thread, down to an eighth of a thread's share,
 * so the first tasks are long and the last short. Long tasks are long streams that the
 * prefetches keep ahead of: with 8 equal short ones per thread, whose every start the prefetchers
 * met cold, SmolLM2's 120 one-row products took 1.2-1.3x longer alone, and greedy decoding was
 * 1.06-1.07x slower end to end (RESULTS.md, session 40). Short last tasks keep the balance when a
 * thread starts late (woken from sleep, or its core busy). */
#define MAX_TASKS 64
static int64_t split_tiles(int64_t ntiles, int64_t *first) {
    const int64_t threads = pool.active > 0 ? pool.active : 1;
    const int64_t least = per_task(ntiles);
    int64_t n = 0, t = 0;
    first[0] = 0;
    while (t < ntiles && n < MAX_TASKS) {
        int64_t size = (ntiles - t + 2 * threads - 1) / (2 * threads);
        size = size < least ? least : size;
        t = n + 1 == MAX_TASKS || t + size > ntiles ? ntiles : t + size;
        first[++n] = t;
    }
    return n;
}

/* y [M, N] = (rmsnorm(x) if nw else x) [M, K] @ W^T (+ bias) (+ residual), W packed as tiles;
 * bits: the weights' bits | the scales' form << 8. */
void rt_qmatmul(const float *x, int64_t M, int64_t K, const float *nw, float eps,
                const uint8_t *w, const void *S, const void *L, int64_t N, int bits,
                const float *bias, const float *residual, float *y, int path) {
    const int64_t nb = K / BLOCK;
    const size_t nq = (size_t)(M * K), ns = sizeof(float) * (size_t)(M * nb);
    const int interleave = path == PATH_AVX512VNNI && M > 1;      /* one row is its own copy */
    char *mem = scratch(SCRATCH_PRODUCT, (carve_size(nq) + 2 * carve_size(ns)) * (interleave ? 2 : 1));
    int8_t *qx = carve(&mem, nq);
    float *dx = carve(&mem, ns), *sxf = carve(&mem, ns);
    int32_t *qxi = interleave ? carve(&mem, nq) : NULL;
    float *dxi = interleave ? carve(&mem, ns) : NULL, *sxi = interleave ? carve(&mem, ns) : NULL;
    /* Rows are quantized independently: in parallel once there are a few (a row per task). */
    quant_t quant = {x, M, K, nw, eps, qx, dx, sxf, qxi, dxi, sxi, M >= 8 ? 1 : M, path};
    parallel(quantize_task, &quant, (M + quant.rows_per_task - 1) / quant.rows_per_task);
    int64_t first[MAX_TASKS + 1];
    const int64_t ntasks = split_tiles(N / TILE, first);
    qmm_t c = {qx, dx, sxf, M, K, N, interleave ? (const int8_t *)qxi : qx, interleave ? dxi : dx,
               interleave ? sxi : sxf, w, S, L, bits & 0xff, bits >> 8, bias, residual, y, first};
    parallel(qmm_task(path), &c, ntasks);
}

/* ----------------------------------------------------------------- attention --------------- */

/* Written once over 8-wide vectors (GCC vector extensions) and compiled for each instruction set;
 * every (row, head) output takes one fixed sequence of operations whatever the batch. */
typedef float v8f __attribute__((vector_size(32)));

/* Lane i of the result: the sum of the 8 lanes of a[i], by one fixed tree for every lane. */
INLINE v8f hsum8x8(const v8f *a) {
    typedef int32_t v8i __attribute__((vector_size(32)));
    const v8i even = {0, 8, 2, 10, 4, 12, 6, 14}, odd = {1, 9, 3, 11, 5, 13, 7, 15};
    const v8i lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const v8i lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    v8f t[4], w[2];
    for (int i = 0; i < 4; i++)
        t[i] = __builtin_shuffle(a[2 * i], a[2 * i + 1], even) + __builtin_shuffle(a[2 * i], a[2 * i + 1], odd);
    for (int i = 0; i < 2; i++)
        w[i] = __builtin_shuffle(t[2 * i], t[2 * i + 1], lo2) + __builtin_shuffle(t[2 * i], t[2 * i + 1], hi2);
    return __builtin_shuffle(w[0], w[1], lo4) + __builtin_shuffle(w[0], w[1], hi4);
}

/* The next keys' rows (2 * D bytes each, one after another in a head-major cache), asked for
 * explicitly this far ahead. */
#define PREFETCH_KEYS 16
INLINE void prefetch_row(const uint16_t *p, int64_t D) {
    for (int64_t b = 0; b < 2 * D; b += 64) __builtin_prefetch((const char *)p + b);
}

/* x with the lanes from `valid` on replaced by fill (the padding past a sequence's last key). */
INLINE v8f vmask8(v8f x, int64_t valid, float fill) {
    typedef int32_t v8i __attribute__((vector_size(32)));
    const v8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
    const v8i keep = lane < (int32_t)(valid < 8 ? valid : 8);
    const v8f f = {fill, fill, fill, fill, fill, fill, fill, fill};
    return (v8f)(((v8i)x & keep) | ((v8i)f & ~keep));
}

INLINE v8f vmax8(v8f a, v8f b) {
    typedef int32_t v8i __attribute__((vector_size(32)));
    const v8i m = a > b;
    return (v8f)(((v8i)a & m) | ((v8i)b & ~m));
}

/* exp(x) for x <= 0 (softmax arguments), lane by lane: 2^n * p(r) with Cody-Waite reduction and a
 * degree-6 polynomial (relative error ~2e-7); x below -87 gives exp(-87) ~ 1.6e-38. The same
 * operations at every width, so 8 or 16 lanes give the same floats. */
#define EXP_LANES(NAME, VT, VI)                                                                    \
INLINE VT NAME(VT x) {                                                                             \
    const VT floor_ = (VT){0} - 87.0f;                                                             \
    const VI low = x < floor_;                                                                     \
    x = (VT)(((VI)floor_ & low) | ((VI)x & ~low));                                                 \
    const float magic = 12582912.0f;                       /* 1.5 * 2^23: round to integer */      \
    const VT t = x * 1.44269504f + magic;                                                          \
    const VT n = t - magic;                                                                        \
    const VT r = (x - n * 0.693145752f) - n * 1.42860677e-6f;                                      \
    VT p = r * 1.38888889e-3f + 8.33333333e-3f;                                                    \
    p = p * r + 4.16666667e-2f;                                                                    \
    p = p * r + 1.66666667e-1f;                                                                    \
    p = p * r + 0.5f;                                                                              \
    p = p * r + 1.0f;                                                                              \
    p = p * r + 1.0f;                                                                              \
    const VI bits = ((VI)t - 0x4B400000 + 127) << 23;                                              \
    return p * (VT)bits;                                                                           \
}
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
EXP_LANES(exp8, v8f, v8i)
EXP_LANES(exp16, v16f, v16i)

/* The KV cache holds fp16 (as llama.cpp's does by default): decode attention at batch 32 streams
 * the whole cache every step, so its bytes are the cost. Writes round to nearest even in software,
 * one function for every path; reads widen exactly (F16C / AVX-512 or in software), so every path
 * still sees the same floats. */
static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000, mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (mag > 0x7f800000u ? 0x200 : 0));  /* inf, nan */
    if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);                   /* rounds past 65504 */
    if (mag < 0x38800000u) {                                 /* below 2^-14: a subnormal half (or 0) */
        float a;
        memcpy(&a, &mag, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f));          /* units of 2^-24 */
    }
    /* rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even */
    return (uint16_t)(sign | ((mag + 0xc8000fffu + ((mag >> 13) & 1)) >> 13));
}

INLINE v8f load8h_generic(const uint16_t *p) {
    v8f r;
    for (int i = 0; i < 8; i++) r[i] = f16_to_f32(p[i]);
    return r;
}

/* Keys lie in blocks of KEY_BLOCK positions, each block transposed: [slots, Hk, blocks, D, 16]
 * (kv_cache.KVCache's key layout), so that one vector holds one dim of 16 consecutive keys. A
 * query's scores of a block are then D multiply-adds of the broadcast query dims into whole
 * vectors, with no sum across lanes: the row-major keys' 8-key reduction trees and folds were about
 * a quarter of attention's operations (session 42). Values stay row-major [slots, Hk, max_len, D]. */
#define KEY_BLOCK 16
INLINE int64_t key_blocks(int64_t max_len) { return (max_len + KEY_BLOCK - 1) / KEY_BLOCK; }

typedef struct {
    const float *q;              /* rotated queries [N, Hq, D] */
    const uint16_t *kc, *vc;     /* this layer's fp16 caches: keys blocked, values [slots, Hk, max_len, D] */
    int64_t N, Hq, Hk, D, max_len, window;
    const int64_t *slot, *last;  /* row n sees the keys at positions up to last[n] */
    float scale, softcap;
    float *out;                  /* [N, Hq * D] */
} attn_t;

/* x with the lanes below `first` replaced by 0 (keys before a sliding window's start that share its
 * first block). */
INLINE v8f vzero_below8(v8f x, int64_t first) {
    const v8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
    const v8i keep = lane >= (int32_t)(first < 8 ? first : 8);
    return (v8f)((v8i)x & keep);
}

/* One (row, kv head) task: the G query heads that share the kv head, GS (scores) or GV (values) of
 * them at a time so that each key or value vector is widened from fp16 once for the whole group.
 * Scores a key block at a time: per head, 4 accumulators over dims d = 0, 1, 2, 3 mod 4 (summed as
 * (a0 + a1) + (a2 + a3)), so the multiply-adds of consecutive dims do not wait on each other; then
 * softmax (max, exp, sum), then the weighted values with one accumulator per head and W dims, keys
 * in order. MULADD(acc, a, b) is acc + a * b: a fused multiply-add on the SIMD path, mul then add in
 * portable C. Grouping only interleaves independent accumulators; each one takes the same sequence
 * of operations, so a row's result depends only on its own query and keys: the same in any batch.
 * A sliding window's keys start at its first position's block; the keys before that position get
 * no weight. */
#define ATTEND(NAME, TARGET, VT, W, MULADD, BCAST, LOADH, GS, GV)                                  \
/* Scores of the block of keys j0..j0+15 at kb ([D][16]) for the ng heads at q (ng <= 3). */      \
TARGET INLINE void NAME##_scores(const attn_t *a, const float *q, const uint16_t *kb,              \
                                 int64_t j0, int64_t len, int ng, float *s, int64_t padded) {      \
    const int64_t D = a->D;                                                                        \
    for (int half = 0; half < KEY_BLOCK / W; half++) {                                             \
        VT acc[3][4];                                                                              \
        for (int g = 0; g < ng; g++)                                                               \
            for (int p = 0; p < 4; p++) acc[g][p] = (VT){0};                                       \
        for (int64_t d = 0; d < D; d += 4) {                                                       \
            for (int p = 0; p < 4; p++) {                                                          \
                const VT kv = LOADH(kb + (d + p) * KEY_BLOCK + half * W);                          \
                for (int g = 0; g < ng; g++) acc[g][p] = MULADD(acc[g][p], BCAST(q[g * D + d + p]), kv); \
            }                                                                                      \
        }                                                                                          \
        for (int g = 0; g < ng; g++) {                                                             \
            const VT sum = ((acc[g][0] + acc[g][1]) + (acc[g][2] + acc[g][3])) * a->scale;        \
            float *out = s + g * padded + j0 + half * W;                                           \
            memcpy(out, &sum, sizeof sum);                                                         \
            for (int c = 0; c < W; c += 8) {                                                       \
                v8f x;                                                                             \
                memcpy(&x, out + c, sizeof x);                                                     \
                if (a->softcap > 0.0f)                                                             \
                    for (int l = 0; l < 8; l++) x[l] = a->softcap * tanhf(x[l] / a->softcap);      \
                x = vmask8(x, len - (j0 + half * W + c), -INFINITY);            /* padding */     \
                memcpy(out + c, &x, sizeof x);                                                     \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
}                                                                                                  \
/* Weighted values of dims W * c0 .. W * (c0 + cn) for the ng heads whose probabilities are at   \
 * s: out = sum_j p_j v_j / total over keys from..len-1 (ng and cn constants where inlined: the   \
 * accumulators stay in registers and the loop carries no bookkeeping). */                         \
TARGET INLINE void NAME##_values(const attn_t *a, const float *s, int64_t padded, const float *total, \
                                 const uint16_t *vbase, int64_t stride, int64_t from, int64_t len, \
                                 int ng, int64_t c0, int cn, float *o) {                           \
    const int64_t D = a->D;                                                                        \
    VT acc[3][4];                                                                                  \
    for (int g = 0; g < ng; g++)                                                                   \
        for (int c = 0; c < cn; c++) acc[g][c] = (VT){0};                                          \
    for (int64_t j = from; j < len; j++) {                                                         \
        const uint16_t *v = vbase + j * stride + W * c0;                                           \
        if (c0 == 0 && j + PREFETCH_KEYS < len) prefetch_row(v + PREFETCH_KEYS * stride, D);      \
        VT vv[4];                                                                                  \
        for (int c = 0; c < cn; c++) vv[c] = LOADH(v + W * c);                                     \
        for (int g = 0; g < ng; g++) {                                                             \
            const VT p = BCAST(s[g * padded + j]);                                                 \
            for (int c = 0; c < cn; c++) acc[g][c] = MULADD(acc[g][c], p, vv[c]);                  \
        }                                                                                          \
    }                                                                                              \
    for (int g = 0; g < ng; g++)                                                                   \
        for (int c = 0; c < cn; c++) {                                                             \
            const VT r = acc[g][c] / total[g];                                                     \
            memcpy(o + g * D + W * (c0 + c), &r, sizeof r);                                        \
        }                                                                                          \
}                                                                                                  \
/* All dims, 4 accumulators per head at a time: every (ng, cn) pair a constant. */                 \
TARGET INLINE void NAME##_values_all(const attn_t *a, const float *s, int64_t padded, const float *total, \
                                     const uint16_t *vbase, int64_t stride, int64_t from, int64_t len, \
                                     int ng, float *o) {                                           \
    const int64_t C = a->D / W;                                                                    \
    for (int64_t c0 = 0; c0 < C; c0 += 4) {                                                        \
        const int cn = C - c0 < 4 ? (int)(C - c0) : 4;                                             \
        _Pragma("GCC unroll 4") for (int k = 1; k <= 4; k++) {                                     \
            if (cn != k) continue;                                                                 \
            if (ng == 1) NAME##_values(a, s, padded, total, vbase, stride, from, len, 1, c0, k, o); \
            else if (ng == 2) NAME##_values(a, s, padded, total, vbase, stride, from, len, 2, c0, k, o); \
            else NAME##_values(a, s, padded, total, vbase, stride, from, len, 3, c0, k, o);        \
        }                                                                                          \
    }                                                                                              \
}                                                                                                  \
TARGET static void NAME(const attn_t *a, int64_t task) {                                           \
    const int64_t n = task / a->Hk, h = task % a->Hk, D = a->D, G = a->Hq / a->Hk;                \
    const int64_t pos = a->last[n];                                                                \
    const int64_t lo = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;         \
    const int64_t start = lo / KEY_BLOCK * KEY_BLOCK, from = lo - start;  /* keys from start on */ \
    const int64_t len = pos - start + 1, padded = (len + KEY_BLOCK - 1) / KEY_BLOCK * KEY_BLOCK;   \
    const int64_t stride = D, bsize = KEY_BLOCK * D;                                               \
    const uint16_t *kblocks = a->kc + ((a->slot[n] * a->Hk + h) * key_blocks(a->max_len) + start / KEY_BLOCK) * bsize; \
    const uint16_t *vbase = a->vc + ((a->slot[n] * a->Hk + h) * a->max_len + start) * D;           \
    float local[4096];                                                                             \
    float *scores = padded * G <= 4096 ? local : malloc(sizeof(float) * (size_t)(padded * G));     \
    const float *q = a->q + (n * a->Hq + h * G) * D;                                               \
    for (int64_t j0 = 0; j0 < len; j0 += KEY_BLOCK) {                                              \
        const uint16_t *kb = kblocks + (j0 / KEY_BLOCK) * bsize;                                   \
        if (j0 + KEY_BLOCK < len)                  /* the next block, asked for a block ahead */   \
            for (int64_t b = 0; b < 2 * bsize; b += 64) __builtin_prefetch((const char *)(kb + bsize) + b); \
        for (int64_t g0 = 0; g0 < G; g0 += GS) {    /* constant group sizes, unrolled */           \
            const float *qg = q + g0 * D;                                                          \
            float *sg = scores + g0 * padded;                                                      \
            switch (G - g0 < GS ? (int)(G - g0) : GS) {                                            \
            case 1: NAME##_scores(a, qg, kb, j0, len, 1, sg, padded); break;                       \
            case 2: NAME##_scores(a, qg, kb, j0, len, 2, sg, padded); break;                       \
            default: NAME##_scores(a, qg, kb, j0, len, 3, sg, padded); break;                      \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    for (int64_t g0 = 0; g0 < G; g0 += GV) {                                                       \
        const int ng = G - g0 < GV ? (int)(G - g0) : GV;                                           \
        float total[3];                                                                            \
        for (int g = 0; g < ng; g++) {                                                             \
            float *s = scores + (g0 + g) * padded;                                                 \
            for (int64_t j = 0; j < from; j++) s[j] = -INFINITY;     /* before the window */       \
            v8f vmax;                               /* max is exact in any order */                \
            memcpy(&vmax, s, sizeof vmax);                                                         \
            for (int64_t j0 = 8; j0 < padded; j0 += 8) {                                           \
                v8f x;                                                                             \
                memcpy(&x, s + j0, sizeof x);                                                      \
                vmax = vmax8(vmax, x);                                                             \
            }                                                                                      \
            float mx = vmax[0];                                                                    \
            for (int l = 1; l < 8; l++) mx = vmax[l] > mx ? vmax[l] : mx;                          \
            const v8f vmx = {mx, mx, mx, mx, mx, mx, mx, mx};                                      \
            v8f part = {0};                                                                        \
            for (int64_t j0 = 0; j0 < padded; j0 += 8) {                                           \
                v8f x;                                                                             \
                memcpy(&x, s + j0, sizeof x);                                                      \
                x = vmask8(exp8(x - vmx), len - j0, 0.0f);                                         \
                if (j0 < from) x = vzero_below8(x, from - j0);                                     \
                memcpy(s + j0, &x, sizeof x);                                                      \
                part += x;                                                                         \
            }                                                                                      \
            const v8f one[8] = {part};                                                             \
            total[g] = hsum8x8(one)[0];                                                            \
        }                                                                                          \
        const float *sg = scores + g0 * padded;                                                    \
        float *o = a->out + (n * a->Hq + h * G + g0) * D;                                          \
        NAME##_values_all(a, sg, padded, total, vbase, stride, from, len, ng, o);                  \
    }                                                                                              \
    if (scores != local) free(scores);                                                             \
}                                                                                                  \
TARGET static void NAME##_task(const void *ctx, int64_t task) {                                    \
    const attn_t *a = ctx;                                                                         \
    const int64_t per = per_task(a->N * a->Hk);                                                    \
    for (int64_t i = task * per; i < (task + 1) * per && i < a->N * a->Hk; i++) NAME(a, i);        \
}

#define MULADD_PLAIN(acc, x, y) ((acc) + (x) * (y))
#define BCAST8(x) ((v8f){x, x, x, x, x, x, x, x})
ATTEND(attend_generic, , v8f, 8, MULADD_PLAIN, BCAST8, load8h_generic, 1, 2)
#if defined(__x86_64__)
#define MULADD_FMA8(acc, x, y) ((v8f)_mm256_fmadd_ps((__m256)(x), (__m256)(y), (__m256)(acc)))
#define LOAD8H(p) ((v8f)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p))))
ATTEND(attend_avx2, __attribute__((target("avx2,fma,f16c"))), v8f, 8, MULADD_FMA8, (v8f)_mm256_set1_ps,
       LOAD8H, 1, 2)
#define MULADD_FMA16(acc, x, y) ((v16f)_mm512_fmadd_ps((__m512)(x), (__m512)(y), (__m512)(acc)))
#define LOAD16H(p) ((v16f)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p))))
ATTEND(attend_avx512, __attribute__((target("avx512f,avx512dq,avx512vl,fma"))), v16f, 16, MULADD_FMA16,
       (v16f)_mm512_set1_ps, LOAD16H, 3, 3)
#endif

/* fp32 -> fp16 of n cache entries: F16C's conversion on the x86 SIMD paths (the same round to
 * nearest even as f32_to_f16 for every number, a NaN keeps more of its payload; 8 at a time instead of
 * ~15 ns each, which was a third of an 8-row verification's attention), else the portable one. */
#if defined(__x86_64__)
__attribute__((target("avx2,f16c"))) static void to_f16_f16c(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) y[i] = f32_to_f16(x[i]);
}
#endif

static void to_f16(const float *x, uint16_t *y, int64_t n, int path) {
#if defined(__x86_64__)
    if (path != PATH_GENERIC) {
        to_f16_f16c(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] = f32_to_f16(x[i]);
}

/* Optional per-head RMSNorm (q/k norm), then rotary ("rotate half") of one head in place. */
static void norm_rotate(float *x, int64_t D, const float *nw, float eps, const float *cos, const float *sin) {
    if (nw) {
        float ss = 0.0f;
        for (int64_t d = 0; d < D; d++) ss += x[d] * x[d];
        const float r = 1.0f / sqrtf(ss / (float)D + eps);
        for (int64_t d = 0; d < D; d++) x[d] = (x[d] * r) * nw[d];
    }
    const int64_t half = D / 2;
    for (int64_t d = 0; d < half; d++) {
        const float a = x[d], b = x[d + half];
        x[d] = a * cos[d] - b * sin[d];
        x[d + half] = b * cos[d + half] + a * sin[d + half];
    }
}

/* One attention layer for a flat batch: qkv [N, (Hq + 2 Hk) D] straight from the fused product.
 * Queries and keys get q/k norm (when given) and rotary; keys and values are written (fp16) into the
 * cache at (slot[n], pos[n]); then each row attends to its sequence's keys lo..last[n]. last NULL is
 * causal (last = pos); a drafter's block passes its last position for every row of the block, whose
 * rows see each other. With out NULL only the cache is written (a drafter's context rows).
 * The caches are head-major (kv_cache.KVCache with blocked_keys): values [slots, Hk, max_len, D], a
 * head's values one after another, which a one-row step at a 2k-token context read 1.7x faster than
 * position-major rows (session 39); keys [slots, Hk, key_blocks(max_len), D, KEY_BLOCK], a head's
 * blocks one after another, each transposed (see KEY_BLOCK). */
void rt_attention(const float *qkv, int64_t N, int64_t Hq, int64_t Hk, int64_t D,
                  const float *q_norm, const float *k_norm, float eps,
                  const float *cos, const float *sin, uint16_t *kc, uint16_t *vc, int64_t max_len,
                  const int64_t *slot, const int64_t *pos, const int64_t *last, int64_t window, float scale,
                  float softcap, float *out, int path) {
    /* queries only when the rows attend (out given) */
    const size_t nq = out ? sizeof(float) * (size_t)(N * Hq * D) : 0, nk = sizeof(float) * (size_t)(Hk * D);
    char *mem = scratch(SCRATCH_ATTENTION, carve_size(nq) + carve_size(nk) + carve_size(sizeof(uint16_t) * (size_t)D));
    float *q = out ? carve(&mem, nq) : NULL;
    float *k = carve(&mem, nk);
    uint16_t *kh = carve(&mem, sizeof(uint16_t) * (size_t)D);
    const int64_t width = (Hq + 2 * Hk) * D;
    for (int64_t n = 0; n < N; n++) {
        const float *row = qkv + n * width;
        for (int64_t h = 0; q && h < Hq; h++) {
            float *qh = q + (n * Hq + h) * D;
            memcpy(qh, row + h * D, sizeof(float) * D);
            norm_rotate(qh, D, q_norm, eps, cos + n * D, sin + n * D);
        }
        memcpy(k, row + Hq * D, sizeof(float) * Hk * D);
        for (int64_t h = 0; h < Hk; h++) {
            const int64_t at = ((slot[n] * Hk + h) * max_len + pos[n]) * D;
            uint16_t *kb = kc + ((slot[n] * Hk + h) * key_blocks(max_len) + pos[n] / KEY_BLOCK) * KEY_BLOCK * D
                         + pos[n] % KEY_BLOCK;          /* dim d of the key at kb[d * KEY_BLOCK] */
            norm_rotate(k + h * D, D, k_norm, eps, cos + n * D, sin + n * D);
            to_f16(k + h * D, kh, D, path);
            for (int64_t d = 0; d < D; d++) kb[d * KEY_BLOCK] = kh[d];
            to_f16(row + (Hq + Hk + h) * D, vc + at, D, path);
        }
    }
    if (!out) return;            /* keys and values only (a drafter's context rows) */
    attn_t a = {q, kc, vc, N, Hq, Hk, D, max_len, window, slot, last ? last : pos, scale, softcap, out};
    const int64_t per = per_task(N * Hk), ntasks = (N * Hk + per - 1) / per;
#if defined(__x86_64__)
    if (path == PATH_AVX512VNNI && D % 16 == 0) parallel(attend_avx512_task, &a, ntasks);
    else if (path != PATH_GENERIC) parallel(attend_avx2_task, &a, ntasks);
    else
#endif
        parallel(attend_generic_task, &a, ntasks);
}

/* ------------------------------------------------------------ fp32 products (unpacked) ------- */

/* y [M, N] = x [M, K] @ W^T (+ bias) (+ residual) with W [N, K] fp32: the products whose weights
 * did not pack (Gemma 3 270M's Q6_K down-projections). torch's fp32 product picks its kernel and
 * blocking by the number of rows, so a row's result moved between a decode step and a verification
 * and broke batch invariance there (RESULTS.md, session 36). Here every output is one fixed
 * sequence: 8 lane partial sums over K in order, one fixed tree, the tail, then bias and residual,
 * whatever M. Tiles of 2 rows x 4 outputs share each chunk they load (independent accumulators, so
 * a tile changes no output's sequence), and a task's weights stream past 32 rows at a time. */
typedef struct {
    const float *x, *w, *bias, *residual;
    float *y;
    int64_t M, K, N, per;
} f32mm_t;

#define F32_ROWS 2             /* rows x outputs per tile: 8 independent accumulators */
#define F32_COLS 4
#define F32_ROW_BLOCK 32       /* rows whose x stay in L2 while a task's weights stream past */
_Static_assert(F32_ROWS == 2 && F32_COLS == 4, "the tile loop below names its 2 x 4 accumulators");
#define F32MM(NAME, TARGET, MULADD)                                                                \
TARGET static void NAME(const void *ctx, int64_t task) {                                           \
    const f32mm_t *c = ctx;                                                                        \
    const int64_t K = c->K, K8 = K / 8 * 8, M = c->M, n0 = task * c->per;                          \
    const int64_t n1 = n0 + c->per < c->N ? n0 + c->per : c->N;                                    \
    for (int64_t mb = 0; mb < M; mb += F32_ROW_BLOCK) {                                            \
        const int64_t me = mb + F32_ROW_BLOCK < M ? mb + F32_ROW_BLOCK : M;                        \
        for (int64_t nb = n0; nb < n1; nb += F32_COLS) {                                           \
            const float *wr[F32_COLS];          /* past the end: the first row again, not stored */ \
            for (int j = 0; j < F32_COLS; j++) wr[j] = c->w + (nb + j < n1 ? nb + j : nb) * K;     \
            for (int64_t m0 = mb; m0 < me; m0 += F32_ROWS) {                                       \
                const float *xr[F32_ROWS];                                                         \
                for (int i = 0; i < F32_ROWS; i++) xr[i] = c->x + (m0 + i < me ? m0 + i : m0) * K; \
                v8f a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0}, a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0}; \
                const float *x0 = xr[0], *x1 = xr[1], *w0 = wr[0], *w1 = wr[1], *w2 = wr[2], *w3 = wr[3]; \
                for (int64_t k = 0; k < K8; k += 8) {   /* named accumulators: kept in registers */ \
                    v8f u0, u1, v0, v1, v2, v3;                                                    \
                    memcpy(&u0, x0 + k, 32); memcpy(&u1, x1 + k, 32);                              \
                    memcpy(&v0, w0 + k, 32); memcpy(&v1, w1 + k, 32);                              \
                    memcpy(&v2, w2 + k, 32); memcpy(&v3, w3 + k, 32);                              \
                    a00 = MULADD(a00, u0, v0); a01 = MULADD(a01, u0, v1);                          \
                    a02 = MULADD(a02, u0, v2); a03 = MULADD(a03, u0, v3);                          \
                    a10 = MULADD(a10, u1, v0); a11 = MULADD(a11, u1, v1);                          \
                    a12 = MULADD(a12, u1, v2); a13 = MULADD(a13, u1, v3);                          \
                }                                                                                  \
                const v8f acc[F32_ROWS][F32_COLS] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}};  \
                for (int i = 0; i < F32_ROWS && m0 + i < me; i++)                                  \
                    for (int j = 0; j < F32_COLS && nb + j < n1; j++) {                            \
                        const v8f a = acc[i][j];                                                   \
                        float s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); \
                        for (int64_t k = K8; k < K; k++) s += xr[i][k] * wr[j][k];                 \
                        const int64_t m = m0 + i, n = nb + j;                                      \
                        if (c->bias) s += c->bias[n];                                              \
                        if (c->residual) s = c->residual[m * c->N + n] + s;                        \
                        c->y[m * c->N + n] = s;                                                    \
                    }                                                                              \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
}
F32MM(f32mm_generic, , MULADD_PLAIN)
#if defined(__x86_64__)
F32MM(f32mm_fma, __attribute__((target("avx2,fma"))), MULADD_FMA8)
#endif

void rt_f32matmul(const float *x, int64_t M, int64_t K, const float *w, int64_t N, const float *bias,
                  const float *residual, float *y, int path) {
    const int64_t per = (per_task(N) + F32_COLS - 1) / F32_COLS * F32_COLS;   /* whole tiles per task */
    f32mm_t c = {x, w, bias, residual, y, M, K, N, per};
    const int64_t ntasks = (N + per - 1) / per;
#if defined(__x86_64__)
    if (path != PATH_GENERIC) { parallel(f32mm_fma, &c, ntasks); return; }
#endif
    parallel(f32mm_generic, &c, ntasks);
}

/* ------------------------------------------------------------------ a decoder layer ---------- */

/* A decoder layer's constants, filled once per layer by runtime._Layer: the four products (qkv, o,
 * gate_up, down: tiles, scales, lows, output width, bits; o or down may instead be an fp32 weight
 * that did not pack, run by rt_f32matmul), the norm weights (NULL when the layer has none) and the
 * shapes. */
typedef struct {
    const uint8_t *w[4];
    const void *S[4], *L[4];
    int64_t N[4], bits[4];       /* bits | scale form << 8, as rt_qmatmul takes them */
    const float *wf[4];          /* a product that did not pack (o or down only): its fp32 weight, w[p] NULL */
    const float *qkv_bias, *input_norm, *post_attn_norm, *pre_ff_norm, *post_ff_norm, *q_norm, *k_norm;
    int64_t H, Hq, Hk, D, I, window, act, sandwich;    /* act: 0 SiLU, 1 GELU (tanh) */
    float eps, scale, softcap;
} layer_t;

enum { P_QKV, P_O, P_GATE_UP, P_DOWN };

static void layer_product(const layer_t *c, int p, const float *x, int64_t M, int64_t K, const float *nw,
                          const float *bias, const float *residual, float *y, int path) {
    if (!c->w[p]) {              /* fp32 (no norm before it: runtime._Layer allows this for o and down) */
        rt_f32matmul(x, M, K, c->wf[p], c->N[p], bias, residual, y, path);
        return;
    }
    rt_qmatmul(x, M, K, nw, c->eps, c->w[p], c->S[p], c->L[p], c->N[p], (int)c->bits[p], bias, residual, y, path);
}

/* The gated activation a = act(g) * u, W lanes at a time, from exp of non-positive arguments only:
 * SiLU(x) = x / (1 + e^-x), written as x e^x / (1 + e^x) below 0; GELU's tanh(y) =
 * sign(y) (1 - e^-2|y|) / (1 + e^-2|y|). Only IEEE adds, multiplies and divides (no contraction:
 * -ffp-contract=off), so every instruction-set path computes the same floats, and every lane the
 * same operations wherever it sits: a row's activations do not depend on the batch or the width. */
#define GATED(NAME, TARGET, VT, VI, W, EXP)                                                        \
TARGET static void NAME(const float *gu, float *a, int64_t rows, int64_t I, int64_t act) {         \
    const VT zero = {0}, one = zero + 1.0f;                                                        \
    for (int64_t m = 0; m < rows; m++) {                                                           \
        const float *g = gu + m * 2 * I, *u = g + I;                                               \
        for (int64_t i = 0; i < I; i += W) {                                                       \
            VT x = {0}, uv = {0}, r;                                                               \
            const int64_t k = I - i < W ? I - i : W;       /* a ragged tail: the same lanes, padded */ \
            if (k == W) {                                   /* constant sizes: plain vector moves */ \
                memcpy(&x, g + i, sizeof x);                                                       \
                memcpy(&uv, u + i, sizeof uv);                                                     \
            } else {                                                                               \
                memcpy(&x, g + i, sizeof(float) * (size_t)k);                                      \
                memcpy(&uv, u + i, sizeof(float) * (size_t)k);                                     \
            }                                                                                      \
            if (act == 0) {                                                                        \
                const VI neg = x < zero;                                                           \
                const VT t = EXP((VT)(((VI)x & neg) | ((VI)-x & ~neg)));        /* e^-|x| */       \
                r = x * ((VT)(((VI)t & neg) | ((VI)one & ~neg)) / (one + t)) * uv;                 \
            } else {                                                                               \
                const VT y = (x + x * x * x * 0.044715f) * 0.7978845608f;      /* sqrt(2 / pi) */  \
                const VI neg = y < zero;                                                           \
                const VT e = EXP((VT)(((VI)y & neg) | ((VI)-y & ~neg)) * 2.0f);                    \
                const VT th = (one - e) / (one + e);                           /* tanh |y| */      \
                r = x * 0.5f * (one + (VT)(((VI)-th & neg) | ((VI)th & ~neg))) * uv;               \
            }                                                                                      \
            if (k == W) memcpy(a + m * I + i, &r, sizeof r);                                       \
            else memcpy(a + m * I + i, &r, sizeof(float) * (size_t)k);                             \
        }                                                                                          \
    }                                                                                              \
}
GATED(gated_generic, , v8f, v8i, 8, exp8)
#if defined(__x86_64__)
GATED(gated_avx2, __attribute__((target("avx2"))), v8f, v8i, 8, exp8)
GATED(gated_avx512, __attribute__((target("avx512f,avx512dq,avx512vl"))), v16f, v16i, 16, exp16)
#endif

typedef struct { const float *gu; float *a; int64_t I, act; int path; } gate_t;

static void gate_rows(const gate_t *c, int64_t m0, int64_t rows) {
    const float *gu = c->gu + m0 * 2 * c->I;
    float *a = c->a + m0 * c->I;
#if defined(__x86_64__)
    if (c->path == PATH_AVX512VNNI) { gated_avx512(gu, a, rows, c->I, c->act); return; }
    if (c->path != PATH_GENERIC) { gated_avx2(gu, a, rows, c->I, c->act); return; }
#endif
    gated_generic(gu, a, rows, c->I, c->act);
}

static void gate_task(const void *ctx, int64_t task) { gate_rows(ctx, task, 1); }

/* out = residual + rmsnorm(h) * w, row by row (Gemma's sandwich norms). */
static void add_normed(const float *residual, const float *h, const float *w, float eps, int64_t M, int64_t H,
                       float *out) {
    for (int64_t m = 0; m < M; m++) {
        const float *hm = h + m * H;
        float ss = 0.0f;
        for (int64_t i = 0; i < H; i++) ss += hm[i] * hm[i];
        const float r = 1.0f / sqrtf(ss / (float)H + eps);
        for (int64_t i = 0; i < H; i++) out[m * H + i] = residual[m * H + i] + (hm[i] * r) * w[i];
    }
}

/* One decoder layer over n rows, x [n, H] -> out [n, H], in one call: the same products and
 * attention that runtime.run_layer calls one by one from Python (whose per-call work was ~1.2 ms
 * of a ~6 ms one-token step on 2 cores), and the gated activation here rather than in torch.
 * The attention arguments are rt_attention's. */
void rt_layer(const layer_t *c, const float *x, int64_t n, const float *cos, const float *sin, uint16_t *kc,
              uint16_t *vc, int64_t max_len, const int64_t *slot, const int64_t *pos, const int64_t *last,
              float *out, int path) {
    const int64_t H = c->H, I = c->I, QD = c->Hq * c->D;
    const size_t f = sizeof(float), nqkv = f * (size_t)(n * c->N[P_QKV]), nattn = f * (size_t)(n * QD),
                 nh = f * (size_t)(n * H), ngu = f * (size_t)(n * 2 * I), na = f * (size_t)(n * I);
    char *mem = scratch(SCRATCH_LAYER, carve_size(nqkv) + carve_size(nattn) + 2 * carve_size(nh) + carve_size(ngu)
                                      + carve_size(na));
    float *qkv = carve(&mem, nqkv), *attn = carve(&mem, nattn);
    float *mid = carve(&mem, nh);                                    /* x after the attention branch */
    float *gu = carve(&mem, ngu), *a = carve(&mem, na);
    float *h = c->sandwich ? carve(&mem, nh) : NULL;                 /* a branch's output before its norm */
    PROF_START();
    layer_product(c, P_QKV, x, n, H, c->input_norm, c->qkv_bias, NULL, qkv, path);
    PROF_LAYER_LAP(PROF_QKV);
    rt_attention(qkv, n, c->Hq, c->Hk, c->D, c->q_norm, c->k_norm, c->eps, cos, sin, kc, vc, max_len, slot, pos,
                 last, c->window, c->scale, c->softcap, attn, path);
    PROF_LAYER_LAP(PROF_ATTENTION);
    if (c->sandwich) {
        layer_product(c, P_O, attn, n, QD, NULL, NULL, NULL, h, path);
        add_normed(x, h, c->post_attn_norm, c->eps, n, H, mid);
        PROF_LAYER_LAP(PROF_O);
        layer_product(c, P_GATE_UP, mid, n, H, c->pre_ff_norm, NULL, NULL, gu, path);
    } else {
        layer_product(c, P_O, attn, n, QD, NULL, NULL, x, mid, path);
        PROF_LAYER_LAP(PROF_O);
        layer_product(c, P_GATE_UP, mid, n, H, c->post_attn_norm, NULL, NULL, gu, path);
    }
    PROF_LAYER_LAP(PROF_GATE_UP);
    /* rows in parallel from 2 (0.16 -> 0.08 ms a 4-row SmolLM2 forward; one row alone is ~1 us a layer) */
    const gate_t g = {gu, a, I, c->act, path};
    if (n >= 2) parallel(gate_task, &g, n);
    else gate_rows(&g, 0, n);
    PROF_LAYER_LAP(PROF_GATE);
    if (c->sandwich) {
        layer_product(c, P_DOWN, a, n, I, NULL, NULL, NULL, h, path);
        add_normed(mid, h, c->post_ff_norm, c->eps, n, H, out);
    } else {
        layer_product(c, P_DOWN, a, n, I, NULL, NULL, mid, out, path);
    }
    PROF_LAYER_LAP(PROF_DOWN);
}

/* A target model's constants for rt_forward, filled once by runtime.FastForward: its layers
 * (rt_layer's arguments), which rotary table each reads (local[i]: 1 for Gemma's sliding layers),
 * the fp32 embedding [vocab, H] its rows start from, and the final norm and head (head_w NULL: the
 * head did not pack, and the caller computes the logits). */
typedef struct {
    const layer_t *layers;
    int64_t n_layers, H, D;
    const int64_t *local;
    const float *embed; int64_t vocab; float embed_scale;
    const float *final_norm; float eps;
    const uint8_t *head_w; const void *head_S, *head_L; int64_t V, head_bits;
} model_t;

/* A forward over n rows in one call: the rows of embed for tokens (times embed_scale, as one fp32
 * multiply), then rt_layer for layer 0..n_layers-1, each on the last one's output, then the
 * logits of rows logit_rows (all n rows when NULL; none when logits is NULL) through the final
 * norm and the head. The Python around the C calls (the embedding, the rotary rows, the head's
 * call, ~ten small torch ops) cost ~0.3 ms of a ~4.5 ms one-token step, each op slow for coming
 * right after the weights had streamed through the caches (RESULTS.md, session 41).
 *   cos / sin: rotary tables [positions, D] from position 0, [0] the global one, [1] the sliding
 *   layers' (Gemma); row r reads the row of its position pos[r].
 *   kc / vc: layer i's caches; slot / pos: each row's, as rt_attention takes them (causal).
 *   taps [n, n_taps, H]: row r's output of layer tap_layers[j] in its j-th block (side by side,
 *   what a drafter reads); out [n, H]: the last layer's output, before the final norm.
 * Returns 0, or 1 + the first row whose token id lies outside the embedding (then nothing ran). */
int64_t rt_forward(const model_t *c, const int64_t *tokens, int64_t n, const float *const *cos,
                   const float *const *sin, uint16_t *const *kc, uint16_t *const *vc, int64_t max_len,
                   const int64_t *slot, const int64_t *pos, const int64_t *tap_layers, int64_t n_taps, float *taps,
                   float *out, const int64_t *logit_rows, int64_t n_logits, float *logits, int path) {
    for (int64_t r = 0; r < n; r++)
        if (tokens[r] < 0 || tokens[r] >= c->vocab) return r + 1;
    const int64_t H = c->H, D = c->D;
    const size_t nh = sizeof(float) * (size_t)(n * H), nd = sizeof(float) * (size_t)(n * D),
                 npick = logit_rows ? sizeof(float) * (size_t)(n_logits * H) : 0;
    char *mem = scratch(SCRATCH_FORWARD, 3 * carve_size(nh) + 4 * carve_size(nd) + carve_size(npick));
    float *x = carve(&mem, nh);
    float *buf[2] = {carve(&mem, nh), carve(&mem, nh)};
    for (int64_t r = 0; r < n; r++) {
        const float *e = c->embed + tokens[r] * H;
        if (c->embed_scale == 1.0f) memcpy(x + r * H, e, sizeof(float) * (size_t)H);
        else for (int64_t j = 0; j < H; j++) x[r * H + j] = e[j] * c->embed_scale;
    }
    float *rc[2] = {NULL, NULL}, *rs[2] = {NULL, NULL};     /* each table's rows for the n positions */
    for (int64_t i = 0; i < c->n_layers; i++) {
        const int64_t t = c->local[i];
        if (rc[t]) continue;
        rc[t] = carve(&mem, nd);
        rs[t] = carve(&mem, nd);
        for (int64_t r = 0; r < n; r++) {
            memcpy(rc[t] + r * D, cos[t] + pos[r] * D, sizeof(float) * (size_t)D);
            memcpy(rs[t] + r * D, sin[t] + pos[r] * D, sizeof(float) * (size_t)D);
        }
    }
    const float *in = x;
    for (int64_t i = 0; i < c->n_layers; i++) {
        float *y = i == c->n_layers - 1 ? out : buf[i & 1];
        const int64_t t = c->local[i];
        rt_layer(&c->layers[i], in, n, rc[t], rs[t], kc[i], vc[i], max_len, slot, pos, NULL, y, path);
        for (int64_t j = 0; j < n_taps; j++)
            if (tap_layers[j] == i)
                for (int64_t r = 0; r < n; r++)
                    memcpy(taps + (r * n_taps + j) * H, y + r * H, sizeof(float) * (size_t)H);
        in = y;
    }
    if (logits && c->head_w) {
        float *picked = logit_rows ? carve(&mem, npick) : NULL;
        for (int64_t r = 0; picked && r < n_logits; r++)
            memcpy(picked + r * H, out + logit_rows[r] * H, sizeof(float) * (size_t)H);
        PROF_START();
        rt_qmatmul(picked ? picked : out, picked ? n_logits : n, H, c->final_norm, c->eps, c->head_w, c->head_S,
                   c->head_L, c->V, (int)c->head_bits, NULL, NULL, logits, path);
        PROF_LAP(PROF_HEAD);
    }
    return 0;
}

/* ------------------------------------------------------------------- argmax --------------- */

/* out[r] = the index of the first maximum of row r of x [rows, n], as torch.argmax (a NaN counts as
 * the maximum: the first NaN wins). Greedy verification and drafting take it over 8k-49k logits per
 * row; torch's argmax reads ~3 ns per element on these CPUs, this ~0.1. Exact: comparisons only.
 * Each of 16 lanes keeps its largest value and where it first saw it; then the largest value over
 * the lanes, the smallest index among lanes that hold it. */
#define ARGMAX_ROWS(NAME, TARGET)                                                                   \
TARGET static void NAME(const float *x, int64_t rows, int64_t n, int64_t *out) {                   \
    for (int64_t r = 0; r < rows; r++) {                                                           \
        const float *row = x + r * n;                                                              \
        int64_t best_i = 0, i = 0;                                                                 \
        int nan = 0;                                                                               \
        if (n >= 16) {                                                                             \
            qv16f best = qload(row);                                                               \
            qv16i idx = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};                    \
            qv16i cur = idx, seen_nan = best != best;                                              \
            for (i = 16; i + 16 <= n; i += 16) {                                                   \
                const qv16f v = qload(row + i);                                                    \
                cur += 16;                                                                         \
                const qv16i gt = v > best;                                                         \
                best = (qv16f)(((qv16i)v & gt) | ((qv16i)best & ~gt));                             \
                idx = (cur & gt) | (idx & ~gt);                                                    \
                seen_nan |= v != v;                                                                \
            }                                                                                      \
            for (int l = 0; l < 16; l++) nan |= seen_nan[l] != 0;                                  \
            float m = best[0];                                                                     \
            best_i = idx[0];                                                                       \
            for (int l = 1; l < 16; l++)                                                           \
                if (best[l] > m || (best[l] == m && idx[l] < best_i)) { m = best[l]; best_i = idx[l]; } \
        }                                                                                          \
        for (; i < n; i++) {                      /* the tail, or a row shorter than 16 */         \
            if (row[i] != row[i]) nan = 1;                                                         \
            else if (row[i] > row[best_i]) best_i = i;                                             \
        }                                                                                          \
        if (nan)                                                                                   \
            for (i = 0; i < n; i++)                                                                \
                if (row[i] != row[i]) { best_i = i; break; }                                       \
        out[r] = best_i;                                                                           \
    }                                                                                              \
}

ARGMAX_ROWS(argmax_rows_generic, )
#if defined(__x86_64__)
ARGMAX_ROWS(argmax_rows_avx2, __attribute__((target("avx2,fma"))))
ARGMAX_ROWS(argmax_rows_avx512, __attribute__((target("avx512f,avx512bw,avx512vl"))))
#endif

void rt_argmax(const float *x, int64_t rows, int64_t n, int64_t *out, int path) {
#if defined(__x86_64__)
    if (path >= PATH_AVX512VNNI) { argmax_rows_avx512(x, rows, n, out); return; }
    if (path != PATH_GENERIC) { argmax_rows_avx2(x, rows, n, out); return; }
#endif
    argmax_rows_generic(x, rows, n, out);
}

/* ------------------------------------------------------------------ sampling -------------- */

/* Sampling's processing of logits into the distribution tokens are drawn from (sampling.py
 * `probabilities`: temperature, then top-k, then top-p) and the draw itself, for the target's rows
 * (verification, plain sampled decoding, batched regeneration) and a DSpark drafter's sampled loop
 * alike. In torch a T 0.7 top-p 0.9 row of SmolLM2's 49k logits took ~0.27 ms to process and ~0.06
 * to draw from, and a regeneration step's 32 rows (top-k 20) ~7 ms (RESULTS.md, session 44). */

/* p [n] = softmax(x [n] / temperature), over 16-lane vectors (GCC vector extensions) compiled for
 * each instruction set: the maximum (exact in any order), exp16 of the differences, 0 below -87
 * where exp16 would floor (a probability under 1e-37 underflows, as torch's float exp does under
 * 1e-45), their sum in 16 lane partial sums then one fixed tree, and one multiplication by its
 * reciprocal per entry. Every path gives the same bits; a ragged tail runs as padded lanes that
 * add nothing. */
#define SOFTMAX_ROW(NAME, TARGET)                                                                   \
TARGET static void NAME(const float *x, int64_t n, float temperature, float *p) {                  \
    const v16f zero = {0}, floor_ = zero - 87.0f;                                                  \
    const int64_t whole = n - n % 16;                                                              \
    v16f mx = zero - INFINITY, tail = zero - INFINITY, acc = zero;                                 \
    memcpy(&tail, x + whole, sizeof(float) * (size_t)(n - whole));   /* padded with -inf */        \
    tail = tail / temperature;                                                                     \
    for (int64_t i = 0; i < whole; i += 16) {                     /* p = x / temperature, its max */ \
        v16f v;                                                                                    \
        memcpy(&v, x + i, sizeof v);                                                               \
        v = v / temperature;                                                                       \
        memcpy(p + i, &v, sizeof v);                                                               \
        const v16i gt = v > mx;                                                                    \
        mx = (v16f)(((v16i)v & gt) | ((v16i)mx & ~gt));                                            \
    }                                                                                              \
    const v16i gt = tail > mx;                                                                     \
    mx = (v16f)(((v16i)tail & gt) | ((v16i)mx & ~gt));                                             \
    float m = -INFINITY;                                                                           \
    for (int l = 0; l < 16; l++) m = mx[l] > m ? mx[l] : m;                                        \
    for (int64_t i = 0; i <= whole; i += 16) {                    /* e = exp(p - max), their sum */ \
        v16f v = tail;                                                                             \
        if (i < whole) memcpy(&v, p + i, sizeof v);                                                \
        const v16f d = v - m;                                                                      \
        const v16i keep = d >= floor_;                     /* padded lanes (-inf): dropped */      \
        const v16f e = (v16f)((v16i)exp16(d) & keep);                                              \
        if (i < whole) memcpy(p + i, &e, sizeof e);                                                \
        else memcpy(p + i, &e, sizeof(float) * (size_t)(n - whole));                              \
        acc = acc + e;                                                                             \
    }                                                                                              \
    for (int w = 8; w >= 1; w /= 2)                                                                \
        for (int l = 0; l < w; l++) acc[l] = acc[l] + acc[l + w];                                 \
    const float r = 1.0f / acc[0];                                                                 \
    for (int64_t i = 0; i < whole; i += 16) {                                                      \
        v16f v;                                                                                    \
        memcpy(&v, p + i, sizeof v);                                                               \
        v = v * r;                                                                                 \
        memcpy(p + i, &v, sizeof v);                                                               \
    }                                                                                              \
    for (int64_t i = whole; i < n; i++) p[i] = p[i] * r;                                           \
}
SOFTMAX_ROW(softmax_row_generic, )
#if defined(__x86_64__)
SOFTMAX_ROW(softmax_row_avx2, __attribute__((target("avx2,fma"))))
SOFTMAX_ROW(softmax_row_avx512, __attribute__((target("avx512f,avx512dq,avx512vl"))))
#endif

static void softmax_row(const float *x, int64_t n, float temperature, float *p, int path) {
#if defined(__x86_64__)
    if (path >= PATH_AVX512VNNI) { softmax_row_avx512(x, n, temperature, p); return; }
    if (path != PATH_GENERIC) { softmax_row_avx2(x, n, temperature, p); return; }
#endif
    (void)path;
    softmax_row_generic(x, n, temperature, p);
}

/* A candidate token: its value and index, ordered by descending value, then ascending index (the
 * order the nucleus and top-k take tokens in). */
typedef struct { float p; int64_t i; } cand_t;

static int cand_order(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The first index from i on (i itself included) whose value exceeds thr, else V: compares only, so
 * every path finds the same index; 16 at a time where the instruction set allows. */
static int64_t next_above_generic(const float *v, int64_t i, int64_t V, float thr) {
    while (i < V && !(v[i] > thr)) i++;
    return i;
}
#if defined(__x86_64__)
__attribute__((target("avx512f"))) static int64_t next_above_avx512(const float *v, int64_t i, int64_t V, float thr) {
    const __m512 t = _mm512_set1_ps(thr);
    for (; i + 16 <= V; i += 16) {
        const __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(v + i), t, _CMP_GT_OQ);
        if (m) return i + __builtin_ctz(m);
    }
    return next_above_generic(v, i, V, thr);
}
__attribute__((target("avx2"))) static int64_t next_above_avx2(const float *v, int64_t i, int64_t V, float thr) {
    const __m256 t = _mm256_set1_ps(thr);
    for (; i + 8 <= V; i += 8) {
        const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + i), t, _CMP_GT_OQ));
        if (m) return i + __builtin_ctz((unsigned)m);
    }
    return next_above_generic(v, i, V, thr);
}
#endif

/* The K largest of v [V] in cand_order into out (a min-heap over one pass, then sorted); returns
 * their number, min(K, V). Once the heap is full only values above its smallest enter (a later
 * index loses a tie), and the scan skips to the next such value. */
static int64_t largest(const float *v, int64_t V, int64_t K, cand_t *out, int path) {
    int64_t n = 0;
    (void)path;
    for (int64_t i = 0; i < V; i++) {
        if (n == K) {
#if defined(__x86_64__)
            if (path >= PATH_AVX512VNNI) i = next_above_avx512(v, i, V, out[0].p);
            else if (path != PATH_GENERIC) i = next_above_avx2(v, i, V, out[0].p);
            else
#endif
            i = next_above_generic(v, i, V, out[0].p);
            if (i >= V) break;
        }
        if (n < K) {
            int64_t j = n++;
            out[j] = (cand_t){v[i], i};
            while (j > 0 && cand_order(&out[(j - 1) / 2], &out[j]) < 0) {
                const cand_t t = out[j]; out[j] = out[(j - 1) / 2]; out[(j - 1) / 2] = t; j = (j - 1) / 2;
            }
        } else {
            out[0] = (cand_t){v[i], i};
            for (int64_t j = 0;;) {
                int64_t l = 2 * j + 1, r = l + 1, m = j;
                if (l < K && cand_order(&out[l], &out[m]) > 0) m = l;
                if (r < K && cand_order(&out[r], &out[m]) > 0) m = r;
                if (m == j) break;
                const cand_t t = out[j]; out[j] = out[m]; out[m] = t; j = m;
            }
        }
    }
    qsort(out, (size_t)n, sizeof(cand_t), cand_order);
    return n;
}

/* Of c [n] (probabilities in cand_order), how many the nucleus keeps: a token stays while the mass
 * before it is below top_p (the first always), as sampling._nucleus keeps them; *kept: their mass.
 * Returns -1 when all n stay and their mass is still below top_p (the nucleus goes on past them). */
static int64_t nucleus_size(const cand_t *c, int64_t n, float top_p, float *kept) {
    float mass = 0.0f;
    int64_t k = 0;
    for (; k < n && (k == 0 || mass < top_p); k++) mass += c[k].p;
    *kept = mass;
    return k == n && mass < top_p ? -1 : k;
}

/* q [V] = p [V] (a distribution) restricted to its nucleus, renormalized. The 64 most probable
 * first. When they hold less than top_p, the tokens go into buckets by their bits (p >= 0: bits >> 20
 * orders them as p, in eighths of a binade): the buckets above the one whose mass, summed from the
 * top, reaches top_p stay whole, and that bucket's tokens, sorted, stay while the mass before them
 * is below top_p. A full sort only when round-off leaves that bucket short. */
static void nucleus(const float *p, int64_t V, float top_p, float *q, int path) {
    enum { K = 64, BUCKETS = 1024 };                  /* p <= 1: bits >> 20 <= 0x3f8 */
    cand_t heap[K], *all = NULL, *c = heap;
    int64_t n = largest(p, V, K, heap, path), whole = -1;   /* whole: the bucket above which all stay */
    float kept;
    int64_t k = nucleus_size(c, n, top_p, &kept);
    if (k < 0 && n < V) {
        float mass[BUCKETS] = {0};
        for (int64_t i = 0; i < V; i++) {
            uint32_t bits;
            memcpy(&bits, &p[i], 4);
            mass[(bits >> 20) & (BUCKETS - 1)] += p[i];
        }
        int b = BUCKETS - 1;
        float above = 0.0f;
        for (; b > 0 && above + mass[b] < top_p; b--) above += mass[b];
        all = (cand_t *)scratch(SCRATCH_NUCLEUS, sizeof(cand_t) * (size_t)V);
        n = 0;
        for (int64_t i = 0; i < V; i++) {
            uint32_t bits;
            memcpy(&bits, &p[i], 4);
            if ((int)((bits >> 20) & (BUCKETS - 1)) == b) all[n++] = (cand_t){p[i], i};
        }
        qsort(all, (size_t)n, sizeof(cand_t), cand_order);
        c = all;
        kept = above;
        k = 0;
        for (; k < n && kept < top_p; k++) kept += c[k].p;    /* above 0: the first token stays */
        whole = b;
        if (kept < top_p && b > 0) {                  /* round-off: sort everything */
            for (int64_t i = 0; i < V; i++) all[i] = (cand_t){p[i], i};
            qsort(all, (size_t)V, sizeof(cand_t), cand_order);
            n = V;
            whole = -1;
            k = nucleus_size(c, n, top_p, &kept);
        }
    }
    if (k < 0) k = n;                                 /* every token, short of top_p by round-off */
    memset(q, 0, sizeof(float) * (size_t)V);
    if (whole >= 0)
        for (int64_t i = 0; i < V; i++) {
            uint32_t bits;
            memcpy(&bits, &p[i], 4);
            if ((int)((bits >> 20) & (BUCKETS - 1)) > whole) q[i] = p[i] / kept;
        }
    for (int64_t j = 0; j < k; j++) q[c[j].i] = c[j].p / kept;
}

/* out [R, V] = sampling.probabilities of logits [R, V]: softmax(logits / temperature) over the
 * top_k largest logits (0: all), then the nucleus top_p (1: all of it), renormalized. */
void rt_probabilities(const float *logits, int64_t R, int64_t V, float temperature, int64_t top_k, float top_p,
                      float *out, int path) {
    const int narrow = top_k > 0 && top_k < V;
    const size_t np = sizeof(float) * (size_t)V, nt = narrow ? sizeof(cand_t) * (size_t)top_k : 0,
                 nz = narrow ? sizeof(float) * (size_t)top_k : 0;
    char *mem = scratch(SCRATCH_SAMPLE, carve_size(np) + carve_size(nt) + carve_size(nz));
    float *p = carve(&mem, np), *z = carve(&mem, nz);
    cand_t *top = carve(&mem, nt);
    for (int64_t r = 0; r < R; r++) {
        const float *x = logits + r * V;
        float *o = out + r * V;
        if (!narrow) {
            softmax_row(x, V, temperature, top_p < 1.0f ? p : o, path);
            if (top_p < 1.0f) nucleus(p, V, top_p, o, path);
            continue;
        }
        /* the top_k logits in cand_order (dividing by temperature > 0 keeps the order), their
         * softmax, then the nucleus among them */
        const int64_t n = largest(x, V, top_k, top, path);
        for (int64_t j = 0; j < n; j++) z[j] = top[j].p;
        softmax_row(z, n, temperature, p, path);
        for (int64_t j = 0; j < n; j++) top[j].p = p[j];
        float kept = 1.0f;
        int64_t k = n;
        if (top_p < 1.0f) {
            k = nucleus_size(top, n, top_p, &kept);
            if (k < 0) k = n;
        }
        memset(o, 0, sizeof(float) * (size_t)V);
        for (int64_t j = 0; j < k; j++) o[top[j].i] = top_p < 1.0f ? top[j].p / kept : top[j].p;
    }
}

/* The token of q [V] (weights >= 0, any total) whose CDF interval holds u * total, the CDF taken in
 * index order: the total and the cumulative sums over runs of 256 tokens (16 lane partial sums of
 * 16-lane vectors, then one fixed tree), then one by one inside the run that holds the point. A
 * token of weight 0 is never drawn; where round-off puts the point past every interval, the last
 * token with weight. The runs' sums are lane-wise IEEE adds in a fixed order, compiled for each
 * instruction set: every path computes the same floats. */
#define RUN_SUMS(NAME, TARGET)                                                                      \
TARGET static void NAME(const float *q, int64_t V, float *sums) {                                  \
    for (int64_t r = 0; r * 256 < V; r++) {                                                        \
        const int64_t end = (r + 1) * 256 < V ? (r + 1) * 256 : V;                                 \
        v16f acc = {0};                                                                            \
        int64_t j = r * 256;                                                                       \
        for (; j + 16 <= end; j += 16) {                                                           \
            v16f v;                                                                                \
            memcpy(&v, q + j, sizeof v);                                                           \
            acc = acc + v;                                                                         \
        }                                                                                          \
        if (j < end) {                                                                             \
            v16f v = {0};                                                                          \
            memcpy(&v, q + j, sizeof(float) * (size_t)(end - j));                                  \
            acc = acc + v;                                                                         \
        }                                                                                          \
        for (int w = 8; w >= 1; w /= 2)                                                            \
            for (int l = 0; l < w; l++) acc[l] = acc[l] + acc[l + w];                             \
        sums[r] = acc[0];                                                                          \
    }                                                                                              \
}
RUN_SUMS(run_sums_generic, )
#if defined(__x86_64__)
RUN_SUMS(run_sums_avx2, __attribute__((target("avx2"))))
RUN_SUMS(run_sums_avx512, __attribute__((target("avx512f"))))
#endif

static void run_sums(const float *q, int64_t V, float *sums, int path) {
#if defined(__x86_64__)
    if (path >= PATH_AVX512VNNI) { run_sums_avx512(q, V, sums); return; }
    if (path != PATH_GENERIC) { run_sums_avx2(q, V, sums); return; }
#endif
    (void)path;
    run_sums_generic(q, V, sums);
}

static int64_t draw(const float *q, int64_t V, float u, int path) {
    enum { RUN = 256 };
    const int64_t runs = (V + RUN - 1) / RUN;
    float stack[256], *sums = runs <= 256 ? stack : malloc(sizeof(float) * (size_t)runs);
    run_sums(q, V, sums, path);
    float total = 0.0f;
    for (int64_t r = 0; r < runs; r++) total += sums[r];
    const float point = u * total;
    int64_t pick = -1;
    float before = 0.0f;
    for (int64_t r = 0; r < runs && pick < 0; r++) {
        if (before + sums[r] > point) {
            float cdf = before;
            const int64_t end = (r + 1) * RUN < V ? (r + 1) * RUN : V;
            for (int64_t j = r * RUN; j < end; j++) {
                cdf += q[j];
                if (cdf > point && q[j] > 0.0f) { pick = j; break; }
            }
        }
        before += sums[r];
    }
    if (sums != stack) free(sums);
    if (pick >= 0) return pick;
    for (int64_t j = V - 1; j > 0; j--)
        if (q[j] > 0.0f) return j;
    return 0;
}

/* out[r] = the token drawn from row r of q [R, V] at the uniform u[r] (draw). */
void rt_draw(const float *q, int64_t R, int64_t V, const float *u, int64_t *out, int path) {
    for (int64_t r = 0; r < R; r++) out[r] = draw(q + r * V, V, u[r], path);
}

/* out[r] = the token drawn at u[r] from row r's distribution (rt_probabilities of logits [R, V]),
 * which stays in a scratch row: plain sampled decoding and batched regeneration need the tokens
 * alone, and a fresh [R, V] output cost its page faults every step (3.5 ms for the 32 rows, 6 MB,
 * of a regeneration step, against 0.4 ms where the memory was warm; RESULTS.md, session 44). */
void rt_sample(const float *logits, int64_t R, int64_t V, float temperature, int64_t top_k, float top_p,
               const float *u, int64_t *out, int path) {
    float *row = (float *)scratch(SCRATCH_ROW, sizeof(float) * (size_t)V);
    for (int64_t r = 0; r < R; r++) {
        rt_probabilities(logits + r * V, 1, V, temperature, top_k, top_p, row, path);
        out[r] = draw(row, V, u[r], path);
    }
}

/* res [V] = max(a p_t - p_d, 0) elementwise: the residual a block-rule prefix leaves. */
static void residual_row(float a, const float *pt, const float *pd, int64_t V, float *res) {
    for (int64_t v = 0; v < V; v++) {
        const float d = a * pt[v] - pd[v];
        res[v] = d > 0.0f ? d : 0.0f;
    }
}

/* The block rule's verdict for one request's sampled drafts (verify.py: block_acceptance, the
 * choice of k and residual, in one call): p_t [n + 1, V] the target's processed distributions, p_d
 * [n, V] the drafter's, drafts [n], u [n] the prefix tests' uniforms, u_next the next token's.
 * a_0 = 1, a_k = min(1, a_k-1 p_t,k(x_k) / p_d,k(x_k)) in double as the Python floats are;
 * h_k = r_k / (r_k + 1 - a_k), r_k = sum_v max(a_k p_t,k+1(v) - p_d,k+1(v), 0) in float, summed
 * by run_sums; h_n = a_n. Keeps the longest k with u[k-1] < h_k (0 when none) and draws the next
 * token from max(a_k p_t,k+1 - p_d,k+1, 0) (p_t,n+1 after all n; p_t,k+1 itself where round-off
 * leaves the residual empty). Returns k; *next the token. In torch these were ~8 ops over [n, V]
 * a round, ~0.3 ms at 2-3 drafts (RESULTS.md, session 44). */
int64_t rt_block_verdict(const float *p_t, const float *p_d, int64_t n, int64_t V, const int64_t *drafts,
                         const float *u, float u_next, int64_t *next, int path) {
    float *res = (float *)scratch(SCRATCH_ROW, sizeof(float) * (size_t)V);
    double a[65];                                     /* a_0 .. a_n (blocks of at most 64 drafts) */
    const int64_t m = n < 64 ? n : 64;
    a[0] = 1.0;
    for (int64_t k = 1; k <= m; k++) {
        const double pk = p_t[(k - 1) * V + drafts[k - 1]], dk = p_d[(k - 1) * V + drafts[k - 1]];
        a[k] = dk > 0.0 ? fmin(1.0, a[k - 1] * pk / dk) : (pk > 0.0 && a[k - 1] > 0.0 ? 1.0 : 0.0);
    }
    const int64_t runs = (V + 255) / 256;
    float stack[256], *sums = runs <= 256 ? stack : malloc(sizeof(float) * (size_t)runs);
    int64_t keep = 0;
    if ((double)u[m - 1] < a[m]) keep = m;
    for (int64_t k = m - 1; k >= 1 && keep == 0; k--) {   /* the longest passing prefix first */
        const float ak = (float)a[k];
        residual_row(ak, p_t + k * V, p_d + k * V, V, res);
        run_sums(res, V, sums, path);
        float r = 0.0f;
        for (int64_t j = 0; j < runs; j++) r += sums[j];
        const double denom = (double)r + 1.0 - (double)ak;
        const double h = denom > 0.0 ? (double)r / denom : 0.0;
        if ((double)u[k - 1] < h) keep = k;
    }
    if (sums != stack) free(sums);
    if (keep == m) {
        *next = draw(p_t + m * V, V, u_next, path);
        return keep;
    }
    const float *pt = p_t + keep * V;
    residual_row((float)a[keep], pt, p_d + keep * V, V, res);
    float total = 0.0f;
    for (int64_t v = 0; v < V; v++) total += res[v];
    *next = draw(total > 0.0f ? res : pt, V, u_next, path);
    return keep;
}

/* ------------------------------------------------------------ DSpark's Markov loop --------- */

/* A DSpark drafter's greedy sequential head (the vanilla Markov head) over a block of g slots for
 * B sequences: slot k's logits are the backbone's plus W2 @ W1[x_{k-1}] (x_{k-1} the previous
 * slot's draft as a target id, the anchor for slot 0), and its draft is their argmax. The same
 * product (rt_qmatmul on W2's packed tiles, the backbone's logits added as its residual: the same
 * sum as the torch form's logits + bias) and the same argmax as the torch form, in one call instead
 * of a few torch ops per slot, which were ~0.5 ms of a ~2.3 ms round at batch 1 (RESULTS.md,
 * session 16).
 *   logits [B, g, V] in; w1 [vocab_in, r] fp32 (the embedding W1); d2t [V] (NULL: draft ids are
 *   target ids); prev [B] in: the anchors' target ids, out: the last drafts'; final [B, g, V] out:
 *   the logits each draft was chosen from; idx [B, g] out: draft ids. */
void rt_markov_greedy(const float *logits, int64_t B, int64_t g, int64_t V, const float *w1, int64_t r,
                      const uint8_t *w, const void *S, const void *L, int bits, const int64_t *d2t,
                      int64_t *prev, float *final, int64_t *idx, int path) {
    float *e = malloc(sizeof(float) * (size_t)(B * r));
    /* one sequence: its slots are contiguous rows; more: gather each slot's rows */
    float *res = B > 1 ? malloc(sizeof(float) * (size_t)(B * V)) : NULL;
    float *out = B > 1 ? malloc(sizeof(float) * (size_t)(B * V)) : NULL;
    int64_t *best = malloc(sizeof(int64_t) * (size_t)B);
    for (int64_t k = 0; k < g; k++) {
        for (int64_t b = 0; b < B; b++) memcpy(e + b * r, w1 + prev[b] * r, sizeof(float) * (size_t)r);
        const float *rk = logits + k * V;
        float *yk = final + k * V;
        if (B > 1) {
            for (int64_t b = 0; b < B; b++)
                memcpy(res + b * V, logits + (b * g + k) * V, sizeof(float) * (size_t)V);
            rk = res;
            yk = out;
        }
        rt_qmatmul(e, B, r, NULL, 0.0f, w, S, L, V, bits, NULL, rk, yk, path);
        rt_argmax(yk, B, V, best, path);
        for (int64_t b = 0; b < B; b++) {
            if (B > 1) memcpy(final + (b * g + k) * V, out + b * V, sizeof(float) * (size_t)V);
            idx[b * g + k] = best[b];
            prev[b] = best[b] + (d2t ? d2t[best[b]] : 0);
        }
    }
    free(e); free(res); free(out); free(best);
}

/* ------------------------------------------------------------ a drafter's round ------------ */

/* y [M, K] = rmsnorm(x) * nw row by row, as the quantizer normalizes before a product (rms_row):
 * the hidden states a drafter's head and confidence head both read. */
static void rms_rows(const float *x, int64_t M, int64_t K, const float *nw, float eps, float *y) {
    for (int64_t m = 0; m < M; m++) rms_row(x + m * K, K, nw, eps, y + m * K);
}

/* A DFlash / DSpark drafter's constants for rt_draft_round, filled once (runtime.DraftForward). */
typedef struct {
    const layer_t *layers;              /* the draft layers, rt_layer's arguments */
    int64_t n_layers, H, g, D;          /* hidden size, block size, head dim (rotary rows) */
    const uint8_t *fc_w; const void *fc_S, *fc_L; int64_t fc_K, fc_bits;   /* fc: taps [fc_K] -> H */
    const float *hidden_norm, *final_norm;
    const float *embed, *mask;          /* block inputs: row `anchor` of embed [vocab, H] * embed_scale, */
    float embed_scale;                  /* then the mask row [H] */
    const uint8_t *head_w; const void *head_S, *head_L; int64_t V, head_bits;  /* draft head [V, H] */
    float logit_softcap;                /* 0: none */
    /* DSpark's vanilla Markov head (w1 NULL: none) and confidence head (conf_w NULL: none) */
    const float *w1; int64_t r;
    const uint8_t *w2; const void *w2_S, *w2_L; int64_t w2_bits;
    const int64_t *d2t;                 /* draft id -> target id offset (NULL: the same ids) */
    const float *conf_w; float conf_b; int64_t conf_markov;   /* conf_w [H (+ r with conf_markov)] */
} draft_t;

/* DSpark's confidence logit of a slot: w . [h ; e] + b (w . h + b without confidence_head_with_markov),
 * h the slot's hidden state, e = W1[x_{k-1}]. */
static float confidence_logit(const draft_t *c, const float *h, const float *e) {
    float s = 0.0f;
    for (int64_t j = 0; j < c->H; j++) s += c->conf_w[j] * h[j];
    if (c->conf_markov)
        for (int64_t j = 0; j < c->r; j++) s += c->conf_w[c->H + j] * e[j];
    return s + c->conf_b;
}

/* One drafting round of one sequence, in one call: DFlashDrafter._flush, _draft_pass and DSpark's
 * greedy Markov loop (rt_markov_greedy) and confidence head, which took ~1.9 ms at batch 1 as ~25
 * Python, torch and C calls, ~1 ms of it outside the C kernels (RESULTS.md, session 37).
 *   Context: taps [m, fc_K] (m may be 0) for positions start..start+m-1: f = fc(taps), then per layer
 *   the keys and values of hidden_norm(f) written into the layer's one-slot cache kc[i] / vc[i].
 *   Block: [embed(anchor), mask x (g-1)] at positions start+m.. through the layers (each row sees
 *   the context and the whole block), hidden [g, H] = norm(x), logits [g, V] = head(hidden). g, the
 *   slots drafted this round, is at most the block size c->g: the policy's draft width
 *   (Policy.draft_width), since on a CPU each slot costs its rows in the layers and the head.
 *   greedy with a Markov head: final [g, V] = logits + W2 W1[x_{k-1}], idx [g] its argmaxes (draft
 *   ids), conf [g] the confidence logits w . [hidden_k ; W1[x_{k-1}]] + b. Otherwise the caller
 *   samples from logits and hidden.
 * cos / sin: rotary tables [positions, D] from position 0. */
void rt_draft_round(const draft_t *c, const float *taps, int64_t m, int64_t start, const float *cos,
                    const float *sin, uint16_t *const *kc, uint16_t *const *vc, int64_t max_len, int64_t anchor,
                    int64_t g, int greedy, float *hidden, float *logits, float *final, int64_t *idx, float *conf,
                    int path) {
    const int64_t H = c->H, D = c->D, n0 = start + m, rows = m > g ? m : g;
    const float eps = c->layers[0].eps;
    PROF_START();
    PROF_DRAFTING(1);
    int64_t *slot = calloc((size_t)rows, sizeof(int64_t));
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)rows), *last = malloc(sizeof(int64_t) * (size_t)g);
    if (m > 0) {                                   /* the context rows' keys and values */
        float *f = malloc(sizeof(float) * (size_t)(m * H));
        rt_qmatmul(taps, m, c->fc_K, NULL, 0.0f, c->fc_w, c->fc_S, c->fc_L, H, (int)c->fc_bits, NULL, NULL, f, path);
        for (int64_t p = 0; p < m; p++) pos[p] = start + p;
        for (int64_t i = 0; i < c->n_layers; i++) {
            const layer_t *L = &c->layers[i];
            float *qkv = malloc(sizeof(float) * (size_t)(m * L->N[P_QKV]));
            /* k/v_proj(hidden_norm(fc(taps))): no input_layernorm on the context */
            layer_product(L, P_QKV, f, m, H, c->hidden_norm, L->qkv_bias, NULL, qkv, path);
            rt_attention(qkv, m, L->Hq, L->Hk, L->D, L->q_norm, L->k_norm, L->eps, cos + start * D, sin + start * D,
                         kc[i], vc[i], max_len, slot, pos, NULL, 0, L->scale, L->softcap, NULL, path);
            free(qkv);
        }
        free(f);
    }
    PROF_LAP(PROF_DRAFT_CONTEXT);
    float *x = malloc(sizeof(float) * (size_t)(g * H)), *y = malloc(sizeof(float) * (size_t)(g * H));
    for (int64_t j = 0; j < H; j++) x[j] = c->embed_scale == 1.0f ? c->embed[anchor * H + j]
                                                                  : c->embed[anchor * H + j] * c->embed_scale;
    for (int64_t k = 1; k < g; k++) memcpy(x + k * H, c->mask, sizeof(float) * (size_t)H);
    for (int64_t k = 0; k < g; k++) { pos[k] = n0 + k; last[k] = n0 + g - 1; slot[k] = 0; }
    for (int64_t i = 0; i < c->n_layers; i++) {
        rt_layer(&c->layers[i], x, g, cos + n0 * D, sin + n0 * D, kc[i], vc[i], max_len, slot, pos, last, y, path);
        float *t = x; x = y; y = t;
    }
    PROF_LAP(PROF_DRAFT_LAYERS);
    rms_rows(x, g, H, c->final_norm, eps, hidden);
    rt_qmatmul(hidden, g, H, NULL, 0.0f, c->head_w, c->head_S, c->head_L, c->V, (int)c->head_bits, NULL, NULL,
               logits, path);
    if (c->logit_softcap > 0.0f)
        for (int64_t i = 0; i < g * c->V; i++) logits[i] = c->logit_softcap * tanhf(logits[i] / c->logit_softcap);
    PROF_LAP(PROF_DRAFT_HEAD);
    if (greedy && c->w1) {                         /* the Markov loop, then the confidences */
        int64_t last = anchor;
        rt_markov_greedy(logits, 1, g, c->V, c->w1, c->r, c->w2, c->w2_S, c->w2_L, (int)c->w2_bits, c->d2t, &last,
                         final, idx, path);
        for (int64_t k = 0, prev = anchor; c->conf_w && k < g; k++) {
            conf[k] = confidence_logit(c, hidden + k * H, c->w1 + prev * c->r);
            prev = idx[k] + (c->d2t ? c->d2t[idx[k]] : 0);
        }
    }
    PROF_LAP(PROF_DRAFT_MARKOV);
    PROF_DRAFTING(0);
    free(x); free(y); free(slot); free(pos); free(last);
}

/* A DSpark drafter's sampled vanilla Markov loop over the g slots of one sequence's block (logits and
 * hidden [g, ...], g at most the block size c->g), in one call: per slot,
 * the confidence logit (confidence_logit, as in rt_draft_round), and,
 * with a stop rule, the prefix survival a_k = a_{k-1} * sigmoid(logit / cal_t[k] + cal_b[k] +
 * cal_e[k] * 2 log cosh(logit / 2)) (the calibration's curvature term; cal_e may be NULL: zeros); the
 * loop stops at the first draft batch-1 greedy admission would not verify,
 * (tau + a_k) * sps[k + 1] <= tau * sps[k] with tau = 1 + a_1 + ... + a_{k-1} and sps[j] the
 * target's steps per second for j + 1 tokens (Policy.draft_stop). Else final_k = logits_k +
 * W2 W1[x_{k-1}], the distribution q_k = nucleus(softmax(final_k / temperature)) (top_p 1: all of
 * it) and x_k drawn from q_k at the uniform u[k] by inverting its CDF in index order. Returns the
 * drafts made, n: idx [n] (draft ids), q [n, V], final [n, V], conf [n]. */
int64_t rt_markov_sample(const draft_t *c, const float *logits, const float *hidden, int64_t g, int64_t anchor,
                         float temperature, float top_p, const float *u, const float *cal_t, const float *cal_b,
                         const float *cal_e, const double *sps, float *final, float *q, int64_t *idx, float *conf,
                         int path) {
    const int64_t H = c->H, V = c->V;
    float *p = (float *)scratch(SCRATCH_SAMPLE, sizeof(float) * (size_t)V);
    int64_t prev = anchor, k = 0;
    double tau = 1.0, a = 1.0;
    for (; k < g; k++) {
        const float *e = c->w1 + prev * c->r;
        if (c->conf_w) {
            conf[k] = confidence_logit(c, hidden + k * H, e);
            if (sps) {
                float x = conf[k] / cal_t[k] + cal_b[k];
                if (cal_e && cal_e[k] != 0.0f) {   /* 2 log cosh(z / 2) = |z| + 2 log(1 + e^-|z|) - 2 log 2 */
                    const float az = fabsf(conf[k]);
                    x += cal_e[k] * (az + 2.0f * log1pf(expf(-az)) - 1.3862944f);
                }
                const float ck = 1.0f / (1.0f + expf(-x));
                a *= ck < 0.0f ? 0.0 : ck > 1.0f ? 1.0 : (double)ck;
                if (!((tau + a) * sps[k + 1] > tau * sps[k])) break;
                tau += a;
            }
        }
        float *fk = final + k * V, *qk = q + k * V;
        rt_qmatmul(e, 1, c->r, NULL, 0.0f, c->w2, c->w2_S, c->w2_L, V, (int)c->w2_bits, NULL, logits + k * V, fk, path);
        softmax_row(fk, V, temperature, top_p < 1.0f ? p : qk, path);
        if (top_p < 1.0f) nucleus(p, V, top_p, qk, path);
        idx[k] = draw(qk, V, u[k], path);
        prev = idx[k] + (c->d2t ? c->d2t[idx[k]] : 0);
    }
    return k;
}
