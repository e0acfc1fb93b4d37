// Products of a few activation rows with a bf16 weight, for the memory-bound one-to-four-row products of
// decoding and label scoring: out[r][j] = beta·out[r][j] + Σ_k x[r][k] · w[j][k] for output rows j in
// [j0, j1). Each bf16 weight is widened to float32 exactly (a 16-bit shift) in registers and multiplied in
// float32, so the values are those of the widened sgemm up to the order of the sums; the weight is read
// once, straight from the (memory-mapped) checkpoint, instead of being widened into a buffer first.
#include "CKernels.h"
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define GEMV512 __attribute__((target("avx512f")))
#define GEMV512_INLINE static inline __attribute__((always_inline, target("avx512f")))

// 16 bf16 values widened to float32.
GEMV512_INLINE __m512 load_bf16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

// Output rows j … j+C-1 for `m` activation rows (C and m constants after inlining): C·m float32 accumulators of
// 16 lanes, each widened weight vector used m times; the last k mod 16 products are added one by one.
GEMV512_INLINE void gemv_bf16_block(const float *x, const int m, int64_t k, const uint16_t *w, int64_t j, const int C,
                                    float *out, int64_t ldc, float beta) {
    const int64_t kv = k & ~(int64_t)15;
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < kv; i += 16) {
        __m512 v[4];
        for (int c = 0; c < C; c++) v[c] = load_bf16(w + (j + c) * k + i);
        for (int r = 0; r < m; r++) {
            __m512 xv = _mm512_loadu_ps(x + r * k + i);
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_fmadd_ps(xv, v[c], acc[r][c]);
        }
    }
    for (int r = 0; r < m; r++) {
        for (int c = 0; c < C; c++) {
            float s = _mm512_reduce_add_ps(acc[r][c]);
            const uint16_t *wr = w + (j + c) * k;
            for (int64_t i = kv; i < k; i++) {
                uint32_t b = (uint32_t)wr[i] << 16;
                float f;
                memcpy(&f, &b, 4);
                s += x[r * k + i] * f;
            }
            float *o = out + r * ldc + j + c;
            *o = beta == 0 ? s : beta * *o + s;
        }
    }
}

// Four output rows at a time, then the remainder one by one.
GEMV512_INLINE void gemv_bf16_rows(const float *x, const int m, int64_t k, const uint16_t *w, int64_t j0, int64_t j1,
                                   float *out, int64_t ldc, float beta) {
    int64_t j = j0;
    for (; j + 4 <= j1; j += 4) gemv_bf16_block(x, m, k, w, j, 4, out, ldc, beta);
    for (; j < j1; j++) gemv_bf16_block(x, m, k, w, j, 1, out, ldc, beta);
}

GEMV512 static void gemv_bf16_avx512(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t j0, int64_t j1,
                                     float *out, int64_t ldc, float beta) {
    switch (m) {
    case 1: gemv_bf16_rows(x, 1, k, w, j0, j1, out, ldc, beta); break;
    case 2: gemv_bf16_rows(x, 2, k, w, j0, j1, out, ldc, beta); break;
    case 3: gemv_bf16_rows(x, 3, k, w, j0, j1, out, ldc, beta); break;
    default: gemv_bf16_rows(x, 4, k, w, j0, j1, out, ldc, beta); break;
    }
}
#endif

int ck_gemv_bf16(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t j0, int64_t j1,
                 float *out, int64_t ldc, float beta) {
    if (m < 1 || m > 4 || k < 1 || j0 < 0 || j1 < j0) return -1;
#if defined(__x86_64__) && defined(__clang__)
    if (ck_cpu_has_avx512f()) {
        gemv_bf16_avx512(x, m, k, w, j0, j1, out, ldc, beta);
        return 0;
    }
#endif
    return -2;
}
