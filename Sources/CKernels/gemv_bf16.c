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

// Four output rows at a time, `m` (1 to 4, a constant after inlining) activation rows: 4·m float32
// accumulators of 16 lanes, each widened weight vector used m times.
GEMV512_INLINE void gemv_bf16_rows(const float *x, const int m, int64_t k, const uint16_t *w, int64_t j0, int64_t j1,
                                     float *out, int64_t ldc, float beta) {
    const int64_t kv = k & ~(int64_t)15;
    int64_t j = j0;
    for (; j + 4 <= j1; j += 4) {
        __m512 acc[4][4];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
        const uint16_t *w0 = w + j * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
        for (int64_t i = 0; i < kv; i += 16) {
            __m512 v0 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w0 + i))), 16));
            __m512 v1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w1 + i))), 16));
            __m512 v2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w2 + i))), 16));
            __m512 v3 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w3 + i))), 16));
            for (int r = 0; r < 4; r++) {
                if (r >= m) break;
                __m512 xv = _mm512_loadu_ps(x + r * k + i);
                acc[r][0] = _mm512_fmadd_ps(xv, v0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(xv, v1, acc[r][1]);
                acc[r][2] = _mm512_fmadd_ps(xv, v2, acc[r][2]);
                acc[r][3] = _mm512_fmadd_ps(xv, v3, acc[r][3]);
            }
        }
        for (int64_t r = 0; r < m; r++) {
            for (int c = 0; c < 4; c++) {
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
    for (; j < j1; j++) {
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        const uint16_t *wr = w + j * k;
        for (int64_t i = 0; i < kv; i += 16) {
            __m512 v = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(wr + i))), 16));
            for (int r = 0; r < 4 && r < m; r++) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * k + i), v, acc[r]);
        }
        for (int64_t r = 0; r < m; r++) {
            float s = _mm512_reduce_add_ps(acc[r]);
            for (int64_t i = kv; i < k; i++) {
                uint32_t b = (uint32_t)wr[i] << 16;
                float f;
                memcpy(&f, &b, 4);
                s += x[r * k + i] * f;
            }
            float *o = out + r * ldc + j;
            *o = beta == 0 ? s : beta * *o + s;
        }
    }
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

// Without AVX-512: the caller widens tiles and multiplies them with sgemm instead (MatMul.widenedTiles).
int ck_gemv_bf16_available(void) {
#if defined(__x86_64__) && defined(__clang__)
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return known;
#else
    return 0;
#endif
}

int ck_gemv_bf16(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t j0, int64_t j1,
                 float *out, int64_t ldc, float beta) {
    if (m < 1 || m > 4 || k < 1 || j0 < 0 || j1 < j0) return -1;
#if defined(__x86_64__) && defined(__clang__)
    if (ck_gemv_bf16_available()) {
        gemv_bf16_avx512(x, m, k, w, j0, j1, out, ldc, beta);
        return 0;
    }
#endif
    return -2;
}
