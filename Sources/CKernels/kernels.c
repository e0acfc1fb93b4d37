#include "CKernels.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

// Element-wise loops are compiled for AVX-512, AVX2+FMA and baseline x86-64, picked at load time.
#if defined(__x86_64__) && defined(__clang__)
#define CK_MULTI __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CK_MULTI
#endif

// Whether this CPU runs AVX-512 Foundation code (the hand-written AVX-512 kernels' condition), probed once.
int ck_cpu_has_avx512f(void) {
#if defined(__x86_64__) && defined(__clang__)
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return known;
#else
    return 0;
#endif
}

// exp(x) without libm calls so loops vectorise: 2^k · p(r) with x = k·ln2 + r, |r| ≤ ln2/2, and a
// degree-6 polynomial (relative error about 2e-7). Arguments are clamped to the float range.
static inline float ck_expf(float x) {
    x = x < -87.33654f ? -87.33654f : (x > 88.72283f ? 88.72283f : x);
    float k = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t e = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &e, 4);
    return p * scale;
}

// tanh through exp: 1 - 2 / (exp(2u) + 1); saturates cleanly to ±1.
static inline float ck_tanhf(float u) {
    return 1.0f - 2.0f / (ck_expf(2.0f * u) + 1.0f);
}

// ---- conversions ---------------------------------------------------------------------------

static inline float bits_to_f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline uint32_t f32_to_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

CK_MULTI void ck_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bits_to_f32((uint32_t)src[i] << 16);
}

static inline uint16_t f32_to_bf16_one(float f) {
    uint32_t b = f32_to_bits(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40); // quiet NaN
    uint32_t lsb = (b >> 16) & 1u;
    b += 0x7fffu + lsb;
    return (uint16_t)(b >> 16);
}

CK_MULTI void ck_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = f32_to_bf16_one(src[i]);
}

CK_MULTI void ck_round_bf16(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = bits_to_f32((uint32_t)f32_to_bf16_one(x[i]) << 16);
}

static inline float f16_to_f32_one(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        if (man == 0) return bits_to_f32(sign);
        // subnormal: value = man * 2^-24
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (man << 13));
    return bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

CK_MULTI void ck_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32_one(src[i]);
}

static inline uint16_t f32_to_f16_one(float f) {
    uint32_t b = f32_to_bits(f);
    uint32_t sign = (b >> 16) & 0x8000u;
    uint32_t absb = b & 0x7fffffffu;
    if (absb > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (absb >= 0x477ff000u) { // rounds to >= 65520 -> inf
        return (uint16_t)(sign | 0x7c00u);
    }
    if (absb < 0x38800000u) { // below smallest normal 2^-14: subnormal or zero
        float a = bits_to_f32(absb);
        // scale so that one f16 subnormal ulp (2^-24) becomes 1, round to nearest even via rint
        float q = rintf(a * 16777216.0f);
        return (uint16_t)(sign | (uint16_t)q);
    }
    uint32_t exp = (absb >> 23) - 112u;
    uint32_t man = absb & 0x7fffffu;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h += 1;
    return (uint16_t)(sign | h);
}

CK_MULTI void ck_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = f32_to_f16_one(src[i]);
}

void ck_round_f16(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = f16_to_f32_one(f32_to_f16_one(x[i]));
}

// ---- matrix products ----------------------------------------------------------------------

extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);
void ck_set_local_threads(int n) { omp_set_num_threads(n); }
int ck_max_threads(void) { return omp_get_max_threads(); }

// 1 = OpenBLAS (default: faster here for both one-row and many-row products), 0 = oneDNN.
static int sgemm_backend = 1;
void ck_set_sgemm_backend(int backend) { sgemm_backend = backend; }
int ck_get_sgemm_backend(void) { return sgemm_backend; }

int ck_sgemm_dnnl(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return 0;
    dnnl_status_t st = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return st == dnnl_success ? 0 : (int)st;
}

int ck_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
             const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return 0;
    if (sgemm_backend == 0) return ck_sgemm_dnnl(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (M == 1 && !transA) {
        // One row: a matrix-vector product (memory-bound; GEMM kernels waste time packing here).
        if (transB)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)N, (blasint)K, alpha, B, (blasint)ldb, A, 1, beta, C, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)K, (blasint)N, alpha, B, (blasint)ldb, A, 1, beta, C, 1);
        return 0;
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
    return 0;
}

// oneDNN 2.6 has no bf16 BLAS-style call, so bf16 products go through the matmul primitive.
// Primitives are cached by shape/strides (oneDNN also keeps its own cache; ours skips the descriptor work).
#include <pthread.h>
static dnnl_engine_t ck_engine = NULL;
// One stream per calling thread: products may run concurrently from our own parallel loops.
static __thread dnnl_stream_t ck_stream = NULL;
static __thread void *ck_scratch = NULL;
static __thread size_t ck_scratch_size = 0;
static pthread_mutex_t ck_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    int64_t key[10];
    dnnl_primitive_t prim;
} ck_cached_prim;
#define CK_CACHE_SIZE 1024
static ck_cached_prim ck_cache[CK_CACHE_SIZE];
static int ck_cache_next = 0;

static int ck_init_engine(void) {
    if (ck_engine) return 0;
    if (dnnl_engine_create(&ck_engine, dnnl_cpu, 0) != dnnl_success) return -1;
    return 0;
}

// key: {M, N, K, a_stride0, a_stride1, b_stride0, b_stride1, ldc, beta*1024, swapped}
// Returns a cached primitive, or (cache full) a fresh one with *owned = 1 that the caller destroys:
// a cached primitive is never destroyed, so no thread can lose one it is executing.
static dnnl_primitive_t ck_matmul_prim(const int64_t key[10], int *owned, dnnl_status_t *status) {
    *owned = 0;
    *status = dnnl_success;
    for (int i = 0; i < CK_CACHE_SIZE; i++)
        if (ck_cache[i].prim && memcmp(ck_cache[i].key, key, sizeof(int64_t) * 10) == 0) return ck_cache[i].prim;
    int64_t M = key[0], N = key[1], K = key[2];
    float beta = (float)key[8] / 1024.0f;
    dnnl_dims_t adims = {M, K}, bdims = {K, N}, cdims = {M, N};
    dnnl_dims_t astr = {key[3], key[4]}, bstr = {key[5], key[6]}, cstr;
    cstr[0] = key[7]; cstr[1] = 1;
    dnnl_memory_desc_t amd, bmd, cmd;
    if (dnnl_memory_desc_init_by_strides(&amd, 2, adims, dnnl_bf16, astr) != dnnl_success) return NULL;
    if (dnnl_memory_desc_init_by_strides(&bmd, 2, bdims, dnnl_bf16, bstr) != dnnl_success) return NULL;
    if (dnnl_memory_desc_init_by_strides(&cmd, 2, cdims, dnnl_f32, cstr) != dnnl_success) return NULL;
    dnnl_matmul_desc_t md;
    if (dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd) != dnnl_success) return NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_attr_create(&attr);
    // Scratch memory comes from each call, so one primitive can run on several threads at once.
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (beta != 0.0f) {
        dnnl_post_ops_t po;
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_sum(po, beta);
        dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &md, attr, ck_engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) { *status = st; return NULL; }
    dnnl_primitive_t prim = NULL;
    st = dnnl_primitive_create(&prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) { *status = st; return NULL; }
    if (ck_cache_next >= CK_CACHE_SIZE) { *owned = 1; return prim; }
    ck_cached_prim *slot = &ck_cache[ck_cache_next++];
    memcpy(slot->key, key, sizeof(int64_t) * 10);
    slot->prim = prim;
    return prim;
}

// Whether this CPU runs bf16 products natively: oneDNN 2.6 has bf16 matmul kernels only from AVX-512
// (avx512_core) up; on an AVX2-only CPU (e.g. an AMD EPYC of the Zen 2/3 families) creating the primitive
// answers "unimplemented". 1 native, 0 widened (below), -1 not asked yet. Set once, read without the lock.
static _Atomic int ck_bf16_mode = -1;
// Tests: 1 sends every bf16 product through the widened path, whatever the CPU has.
static _Atomic int ck_bf16_force_widened = 0;
void ck_set_bf16_force_widened(int on) { ck_bf16_force_widened = on ? 1 : 0; }

int ck_bf16_native(void) {
    if (ck_bf16_mode < 0) {
        // Ask with a small product (its primitive is cached for later use).
        uint16_t a[4] = {0}, b[4] = {0};
        float c[4];
        (void)ck_gemm_bf16(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    }
    return ck_bf16_mode == 1;
}

static inline float ck_bf16_one(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// The same product where oneDNN has no bf16 kernel: bf16 × bf16 products are exact in float32 and the
// native kernels accumulate in float32, so widening both operands to float32 and running sgemm gives the
// same values up to the order of summation. Widened a panel at a time (at most about 16 MB per operand),
// so a large weight is never copied whole.

static int ck_gemm_bf16_widened(int transA, int transB, int64_t M, int64_t N, int64_t K,
                                const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb,
                                float beta, float *C, int64_t ldc) {
    if (K == 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : C[i * ldc + j];
        return 0;
    }
    const int64_t budget = (int64_t)1 << 22;   // floats per panel
    int64_t mt = budget / K, nt = budget / K;
    if (mt < 1) mt = 1;
    if (nt < 1) nt = 1;
    if (mt > M) mt = M;
    if (nt > N) nt = N;
    float *ap = malloc(sizeof(float) * (size_t)(mt * K));
    float *bp = malloc(sizeof(float) * (size_t)(nt * K));
    if (!ap || !bp) { free(ap); free(bp); return -5; }
    int rc = 0;
    for (int64_t i0 = 0; i0 < M && rc == 0; i0 += mt) {
        int64_t mi = M - i0 < mt ? M - i0 : mt;
        // Rows i0..i0+mi of op(A) as a row-major [mi, K] panel.
        if (!transA) {
            for (int64_t i = 0; i < mi; i++) ck_bf16_to_f32(A + (i0 + i) * lda, ap + i * K, (size_t)K);
        } else {
            for (int64_t i = 0; i < mi; i++)
                for (int64_t k = 0; k < K; k++) ap[i * K + k] = ck_bf16_one(A[k * lda + i0 + i]);
        }
        for (int64_t j0 = 0; j0 < N && rc == 0; j0 += nt) {
            int64_t nj = N - j0 < nt ? N - j0 : nt;
            // Columns j0..j0+nj of op(B) as a row-major [nj, K] panel (op(B) transposed).
            if (transB) {
                for (int64_t j = 0; j < nj; j++) ck_bf16_to_f32(B + (j0 + j) * ldb, bp + j * K, (size_t)K);
            } else {
                for (int64_t k = 0; k < K; k++)
                    for (int64_t j = 0; j < nj; j++) bp[j * K + k] = ck_bf16_one(B[k * ldb + j0 + j]);
            }
            dnnl_status_t st = dnnl_sgemm('N', 'T', mi, nj, K, 1.0f, ap, K, bp, K, beta, C + i0 * ldc + j0, ldc);
            if (st != dnnl_success) rc = (int)st;
        }
    }
    free(ap);
    free(bp);
    return rc;
}

int ck_gemm_bf16(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return 0;
    if (alpha != 1.0f) return -2; // not needed by callers; keep the primitive simple
    if (beta != 0.0f && beta != 1.0f) return -3;
    if (ck_bf16_mode == 0 || ck_bf16_force_widened) return ck_gemm_bf16_widened(transA, transB, M, N, K, A, lda, B, ldb, beta, C, ldc);
    // One row against a [N, K] weight: compute Cᵀ = W·Aᵀ instead, so the large matrix is the plainly laid out
    // source and the library does not re-layout it on every call.
    int swapped = (M == 1 && transB && !transA);
    const void *srcp = A, *weip = B;
    int64_t key[10];
    if (swapped) {
        int64_t k2[10] = {N, 1, K, ldb, 1, 1, 1, 1, (int64_t)(beta * 1024.0f), 1};
        memcpy(key, k2, sizeof k2);
        srcp = B; weip = A;
    } else {
        int64_t as0 = transA ? 1 : lda, as1 = transA ? lda : 1;
        int64_t bs0 = transB ? 1 : ldb, bs1 = transB ? ldb : 1;
        int64_t k2[10] = {M, N, K, as0, as1, bs0, bs1, ldc, (int64_t)(beta * 1024.0f), 0};
        memcpy(key, k2, sizeof k2);
    }
    pthread_mutex_lock(&ck_lock);
    if (ck_init_engine() != 0) { pthread_mutex_unlock(&ck_lock); return -1; }
    int owned = 0;
    dnnl_status_t pst = dnnl_success;
    dnnl_primitive_t prim = ck_matmul_prim(key, &owned, &pst);
    if (prim && ck_bf16_mode < 0) ck_bf16_mode = 1;
    if (!prim && pst == dnnl_unimplemented && ck_bf16_mode != 1) ck_bf16_mode = 0;
    pthread_mutex_unlock(&ck_lock);
    if (!prim && ck_bf16_mode == 0) return ck_gemm_bf16_widened(transA, transB, M, N, K, A, lda, B, ldb, beta, C, ldc);
    if (!prim) return -4;
    if (!ck_stream && dnnl_stream_create(&ck_stream, ck_engine, dnnl_stream_default_flags) != dnnl_success) return -1;
    const_dnnl_primitive_desc_t pd;
    dnnl_primitive_get_primitive_desc(prim, &pd);
    const dnnl_memory_desc_t *amd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *bmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *cmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    dnnl_memory_t am, bm, cm, sm = NULL;
    dnnl_memory_create(&am, amd, ck_engine, (void *)srcp);
    dnnl_memory_create(&bm, bmd, ck_engine, (void *)weip);
    dnnl_memory_create(&cm, cmd, ck_engine, C);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, NULL}};
    int nargs = 3;
    size_t need = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (need > 0) {
        // Reused per thread: allocating (and faulting in) fresh scratch memory on every call costs more
        // than small products themselves.
        if (need > ck_scratch_size) {
            free(ck_scratch);
            ck_scratch = NULL;
            ck_scratch_size = 0;
            if (posix_memalign(&ck_scratch, 64, need) != 0) { ck_scratch = NULL; }
            else ck_scratch_size = need;
        }
        if (!ck_scratch) { dnnl_memory_destroy(am); dnnl_memory_destroy(bm); dnnl_memory_destroy(cm); if (owned) dnnl_primitive_destroy(prim); return -5; }
        dnnl_memory_create(&sm, smd, ck_engine, ck_scratch);
        args[3].memory = sm;
        nargs = 4;
    }
    dnnl_status_t st = dnnl_primitive_execute(prim, ck_stream, nargs, args);
    if (st == dnnl_success) st = dnnl_stream_wait(ck_stream);
    dnnl_memory_destroy(am); dnnl_memory_destroy(bm); dnnl_memory_destroy(cm);
    if (sm) dnnl_memory_destroy(sm);
    if (owned) dnnl_primitive_destroy(prim);
    return st == dnnl_success ? 0 : (int)st;
}

// ---- element-wise -------------------------------------------------------------------------

CK_MULTI void ck_rmsnorm_rows(const float *x, float *y, const float *w, float addOne, float eps, int64_t rows, int64_t dim) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        double ss = 0;
        float acc[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= dim; i += 16)
            for (int k = 0; k < 16; k++) acc[k] += xr[i + k] * xr[i + k];
        for (int k = 0; k < 16; k++) ss += acc[k];
        for (; i < dim; i++) ss += (double)xr[i] * xr[i];
        float inv = 1.0f / sqrtf((float)(ss / (double)dim) + eps);
        for (int64_t j = 0; j < dim; j++) yr[j] = (xr[j] * inv) * (addOne + w[j]);
    }
}

CK_MULTI void ck_layernorm_rows(const float *x, float *y, const float *w, const float *b, float eps, int64_t rows, int64_t dim) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        double s = 0;
        for (int64_t i = 0; i < dim; i++) s += xr[i];
        float mean = (float)(s / (double)dim);
        double v = 0;
        for (int64_t i = 0; i < dim; i++) { float d = xr[i] - mean; v += (double)d * d; }
        float inv = 1.0f / sqrtf((float)(v / (double)dim) + eps);
        for (int64_t i = 0; i < dim; i++) yr[i] = (xr[i] - mean) * inv * w[i] + b[i];
    }
}

static inline float gelu_tanh_one(float x) {
    const float c = 0.7978845608028654f; // sqrt(2/pi)
    float inner = c * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + ck_tanhf(inner));
}

CK_MULTI void ck_gelu_tanh_mul(const float *gate, const float *up, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = gelu_tanh_one(gate[i]) * up[i];
}

CK_MULTI void ck_gelu_tanh(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = gelu_tanh_one(x[i]);
}

CK_MULTI void ck_softcap(float *x, size_t n, float cap) {
    float inv = 1.0f / cap;
    for (size_t i = 0; i < n; i++) x[i] = ck_tanhf(x[i] * inv) * cap;
}

CK_MULTI void ck_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

CK_MULTI void ck_add_bias_rows(float *x, const float *bias, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        float *xr = x + r * cols;
        for (int64_t c = 0; c < cols; c++) xr[c] += bias[c];
    }
}

CK_MULTI void ck_scale(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

CK_MULTI void ck_softmax_rows(float *x, int64_t rows, int64_t cols, int64_t ld) {
    // Max and sum use 16 independent lanes so the loops vectorise without reassociation flags.
    for (int64_t r = 0; r < rows; r++) {
        float *xr = x + r * ld;
        float mv[16];
        for (int k = 0; k < 16; k++) mv[k] = -INFINITY;
        int64_t i = 0;
        for (; i + 16 <= cols; i += 16)
            for (int k = 0; k < 16; k++) mv[k] = xr[i + k] > mv[k] ? xr[i + k] : mv[k];
        float m = -INFINITY;
        for (int k = 0; k < 16; k++) m = mv[k] > m ? mv[k] : m;
        for (; i < cols; i++) m = xr[i] > m ? xr[i] : m;
        if (m == -INFINITY) { for (int64_t j = 0; j < cols; j++) xr[j] = 0; continue; }
        float sv[16] = {0};
        i = 0;
        for (; i + 16 <= cols; i += 16)
            for (int k = 0; k < 16; k++) {
                float v = xr[i + k];
                float e = v == -INFINITY ? 0.0f : ck_expf(v - m);
                xr[i + k] = e;
                sv[k] += e;
            }
        float s = 0;
        for (int k = 0; k < 16; k++) s += sv[k];
        for (; i < cols; i++) { float e = xr[i] == -INFINITY ? 0.0f : ck_expf(xr[i] - m); xr[i] = e; s += e; }
        float inv = 1.0f / s;
        for (int64_t j = 0; j < cols; j++) xr[j] *= inv;
    }
}

CK_MULTI void ck_rope_rows(float *x, int64_t rows, int64_t headsPerRow, int64_t headDim, const float *cosT, const float *sinT, int64_t ldx) {
    int64_t half = headDim / 2;
    for (int64_t r = 0; r < rows; r++) {
        const float *c = cosT + r * half;
        const float *s = sinT + r * half;
        for (int64_t h = 0; h < headsPerRow; h++) {
            float *v = x + r * ldx + h * headDim;
            for (int64_t i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}

int64_t ck_argmax(const float *x, int64_t n) {
    int64_t best = 0;
    float bv = -INFINITY;
    for (int64_t i = 0; i < n; i++) if (x[i] > bv) { bv = x[i]; best = i; }
    return best;
}

CK_MULTI float ck_dot(const float *a, const float *b, int64_t n) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) acc[k] += a[i + k] * b[i + k];
    float s = 0;
    for (int k = 0; k < 16; k++) s += acc[k];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// ---- weight quantisation ----------------------------------------------------------------------
// NF4 code values (QLoRA's 4-bit NormalFloat), ascending; index 7 is exactly zero.
static const float ck_nf4_values[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

const float *ck_nf4_table(void) { return ck_nf4_values; }

// Index of the nearest entry of an ascending table (the lower one on a tie).
static inline int ck_nearest_sorted(const float *table, int count, float v) {
    int lo = 0, hi = count - 1;
    if (v <= table[0]) return 0;
    if (v >= table[hi]) return hi;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (table[mid] <= v) lo = mid; else hi = mid;
    }
    return (v - table[lo] <= table[hi] - v) ? lo : hi;
}

void ck_nf4_quantize(const float *x, int64_t n, int64_t firstElement, uint8_t *packed, float *absmax) {
    // firstElement is the flat index of x[0] in the whole matrix; a multiple of 64.
    int64_t blocks = (n + 63) / 64;
    for (int64_t b = 0; b < blocks; b++) {
        int64_t s = b * 64, e = s + 64 < n ? s + 64 : n;
        float m = 0;
        for (int64_t i = s; i < e; i++) { float a = fabsf(x[i]); if (a > m) m = a; }
        absmax[b] = m;
        for (int64_t i = s; i < e; i++) {
            int q = m > 0 ? ck_nearest_sorted(ck_nf4_values, 16, x[i] / m) : 7;
            int64_t g = firstElement + i;
            uint8_t *p = packed + (g >> 1);
            if (g & 1) *p = (uint8_t)((*p & 0xF0) | q);
            else *p = (uint8_t)((*p & 0x0F) | (q << 4));
        }
    }
}

void ck_dynamic_quantize(const float *x, int64_t n, int64_t blocksize, const float *code, uint8_t *q, float *absmax) {
    int64_t blocks = (n + blocksize - 1) / blocksize;
    for (int64_t b = 0; b < blocks; b++) {
        int64_t s = b * blocksize, e = s + blocksize < n ? s + blocksize : n;
        float m = 0;
        for (int64_t i = s; i < e; i++) { float a = fabsf(x[i]); if (a > m) m = a; }
        absmax[b] = m;
        for (int64_t i = s; i < e; i++) q[i] = (uint8_t)ck_nearest_sorted(code, 256, m > 0 ? x[i] / m : 0.0f);
    }
}

void ck_nf4_dequantize(const uint8_t *packed, const uint8_t *qabsmax, const float *absmax2, float offset,
                       const float *code2, int64_t start, int64_t n, float *out) {
    int64_t g = start, end = start + n;
    while (g < end) {
        int64_t b = g >> 6;
        int64_t be = (b + 1) << 6;
        if (be > end) be = end;
        float scale = code2[qabsmax[b]] * absmax2[b >> 8] + offset;
        float *o = out + (g - start);
        if (g & 1) { *o++ = ck_nf4_values[packed[g >> 1] & 15] * scale; g++; }
        for (; g + 1 < be; g += 2) {
            uint8_t byte = packed[g >> 1];
            o[0] = ck_nf4_values[byte >> 4] * scale;
            o[1] = ck_nf4_values[byte & 15] * scale;
            o += 2;
        }
        if (g < be) { *o = ck_nf4_values[packed[g >> 1] >> 4] * scale; g++; }
    }
}

// Written so the loops vectorise (16 running maxima, a division and a round per lane): the activations of
// every w8a8 product pass through here. The same values as the plain loop: max is order-free, and each
// element is still nearbyintf(x / scale).
CK_MULTI void ck_int8_quantize_rows(const float *x, int64_t rows, int64_t cols, int8_t *q, float *scales) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float lane[16] = {0};
        int64_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            for (int l = 0; l < 16; l++) {
                float a = fabsf(xr[c + l]);
                lane[l] = a > lane[l] ? a : lane[l];
            }
        }
        float m = 0;
        for (int l = 0; l < 16; l++) m = lane[l] > m ? lane[l] : m;
        for (; c < cols; c++) { float a = fabsf(xr[c]); if (a > m) m = a; }
        float s = m / 127.0f;
        scales[r] = s;
        int8_t *qr = q + r * cols;
        if (s > 0) {
            for (int64_t k = 0; k < cols; k++) {
                float v = nearbyintf(xr[k] / s);
                v = v > 127.0f ? 127.0f : v;
                v = v < -127.0f ? -127.0f : v;
                qr[k] = (int8_t)v;
            }
        } else {
            memset(qr, 0, (size_t)cols);
        }
    }
}

void ck_int8_dequantize_rows(const int8_t *q, const float *scales, int64_t rows, int64_t cols, float *out) {
    for (int64_t r = 0; r < rows; r++) {
        float s = scales[r];
        const int8_t *qr = q + r * cols;
        float *o = out + r * cols;
        for (int64_t c = 0; c < cols; c++) o[c] = (float)qr[c] * s;
    }
}

// ---- library identification (the compute choice's cache key) -----------------------------------
#include <stdio.h>
const char *ck_library_versions(void) {
    static char text[512];
    if (!text[0]) {
        const dnnl_version_t *v = dnnl_version();
        char *blas = openblas_get_config();
        snprintf(text, sizeof text, "oneDNN %d.%d.%d (%s); OpenBLAS %s; bf16 units %s",
                 v->major, v->minor, v->patch, v->hash ? v->hash : "-", blas ? blas : "-", ck_bf16_native() ? "native" : "widened");
    }
    return text;
}

// ---- int8 products (--quantize w8a8) ------------------------------------------------------------
#include <cpuid.h>
// VNNI in any form: AVX-512 VNNI (CPUID 7.0 ECX bit 11), AVX-VNNI (7.1 EAX bit 4) or AMX-INT8 (7.0 EDX bit 25).
// Without it oneDNN's int8 GEMM forms pairs of u8×s8 products in saturating 16-bit sums, so the callers
// take an exact float32 path instead.
int ck_int8_vnni(void) {
    static int known = -1;
    if (known < 0) {
        unsigned a, b, c, d;
        int found = 0;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
            if (c & (1u << 11)) found = 1;
            if (d & (1u << 25)) found = 1;
            if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4))) found = 1;
        }
        known = found;
    }
    return known;
}

// C[M, N] (int32) = A[M, K] (int8, row-major) · B[N, K]ᵀ (int8, row-major): exact integer sums.
int ck_gemm_s8s8s32_nt(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B, int64_t ldb,
                       int32_t *C, int64_t ldc) {
    const int32_t zero = 0;
    dnnl_status_t st = dnnl_gemm_s8s8s32('N', 'T', 'F', M, N, K, 1.0f, A, lda, 0, B, ldb, 0, 0.0f, C, ldc, &zero);
    return st == dnnl_success ? 0 : (int)st;
}

// out[r, c] = beta · out[r, c] + acc[r, c] · rowScales[r] · colScales[c], for rows [0, rows).
CK_MULTI void ck_w8a8_rescale(const int32_t *acc, int64_t rows, int64_t cols, int64_t ldacc, const float *rowScales,
                     const float *colScales, float beta, float *out, int64_t ldo) {
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *a = acc + r * ldacc;
        float *o = out + r * ldo;
        const float s = rowScales[r];
        if (beta == 0.0f) {
            for (int64_t c = 0; c < cols; c++) o[c] = ((float)a[c] * s) * colScales[c];
        } else {
            for (int64_t c = 0; c < cols; c++) o[c] = beta * o[c] + ((float)a[c] * s) * colScales[c];
        }
    }
}
