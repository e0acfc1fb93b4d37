#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>

// ---- conversions ---------------------------------------------------------------------------
void ck_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
void ck_f32_to_bf16(const float *src, uint16_t *dst, size_t n);   // round to nearest even
void ck_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void ck_f32_to_f16(const float *src, uint16_t *dst, size_t n);    // round to nearest even
void ck_round_bf16(float *x, size_t n);
void ck_round_f16(float *x, size_t n);

// ---- matrix products (row-major; C = alpha * op(A) * op(B) + beta * C) -------------------------
// Returns 0 on success, a library status otherwise.
int ck_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
             const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
// 1 when this CPU runs AVX-512 Foundation code (the hand-written AVX-512 kernels below), else 0.
int ck_cpu_has_avx512f(void);
// out[r][j] = beta·out[r][j] + Σ_k x[r][k]·w[j][k] for r < m (1 to 4) and j in [j0, j1): bf16 weight [N, K]
// widened in registers, float32 products and sums (AVX-512). 0 on success; nonzero when m is out of range or
// the CPU lacks AVX-512 (ck_cpu_has_avx512f() is 0: the caller takes the widened sgemm).
int ck_gemv_bf16(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t j0, int64_t j1,
                 float *out, int64_t ldc, float beta);
// oneDNN sgemm; honours the calling thread's OpenMP thread count (use inside our own parallel loops).
int ck_sgemm_dnnl(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
// bf16 inputs, float32 accumulation and output (oneDNN). On a CPU without oneDNN bf16 kernels (AVX2 only)
// the operands are widened to float32 panel by panel and multiplied by sgemm: the same values up to the
// order of summation.
int ck_gemm_bf16(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc);
// 1 when this CPU has oneDNN bf16 matmul kernels (AVX-512 and up), 0 when bf16 products are widened.
int ck_bf16_native(void);
// oneDNN and OpenBLAS versions and whether bf16 products run natively (a stable string).
const char *ck_library_versions(void);
// Tests: nonzero sends every bf16 product through the widened path.
void ck_set_bf16_force_widened(int on);
// Threads the calling thread's library calls may use (OpenMP ICV of this thread); used inside our own
// parallel loops so that nested library calls do not oversubscribe the cores.
void ck_set_local_threads(int n);
int ck_max_threads(void);
// 0 = oneDNN sgemm, 1 = OpenBLAS sgemm/sgemv (default).
void ck_set_sgemm_backend(int backend);
int ck_get_sgemm_backend(void);

// ---- element-wise kernels -----------------------------------------------------------------
// Gemma RMSNorm over rows: y = x / sqrt(mean(x^2) + eps) * (addOne + w). y may alias x.
void ck_rmsnorm_rows(const float *x, float *y, const float *w, float addOne, float eps, int64_t rows, int64_t dim);
// LayerNorm over rows with weight and bias.
void ck_layernorm_rows(const float *x, float *y, const float *w, const float *b, float eps, int64_t rows, int64_t dim);
// out[i] = gelu_tanh(gate[i]) * up[i]   (out may alias gate or up)
void ck_gelu_tanh_mul(const float *gate, const float *up, float *out, size_t n);
// in place gelu_tanh
void ck_gelu_tanh(float *x, size_t n);
// x = cap * tanh(x / cap)
void ck_softcap(float *x, size_t n, float cap);
// y += x
void ck_add(float *y, const float *x, size_t n);
// rows of x [rows, cols] += bias [cols]
void ck_add_bias_rows(float *x, const float *bias, int64_t rows, int64_t cols);
// x *= s
void ck_scale(float *x, size_t n, float s);
// Row-wise softmax over `cols` entries of each row (stride ld); -inf entries get 0; all -inf rows become 0.
void ck_softmax_rows(float *x, int64_t rows, int64_t cols, int64_t ld);
// Rotary embedding, "rotate half" layout: for each row, x[i] and x[i+half] rotate by angle pos*invFreq[i].
// cosT/sinT hold [rows, half] tables.
void ck_rope_rows(float *x, int64_t rows, int64_t headsPerRow, int64_t headDim, const float *cosT, const float *sinT, int64_t ldx);
// argmax of a float row (first index of the maximum; NaN never wins)
int64_t ck_argmax(const float *x, int64_t n);
// dot product and max |x|
float ck_dot(const float *a, const float *b, int64_t n);

// ---- weight quantisation (see docs/QUANTIZATION.md) -----------------------------------------------
// The 16 NF4 code values, ascending.
const float *ck_nf4_table(void);
// NF4 blocks of 64 over x[0..n): absmax per block, 4-bit codes of x/absmax packed two per byte (first
// element of a pair in the high nibble) at flat element index firstElement (a multiple of 64) onwards.
void ck_nf4_quantize(const float *x, int64_t n, int64_t firstElement, uint8_t *packed, float *absmax);
// Blockwise 8-bit quantisation against an ascending 256-entry code table: absmax per block, nearest code index.
void ck_dynamic_quantize(const float *x, int64_t n, int64_t blocksize, const float *code, uint8_t *q, float *absmax);
// Flat elements [start, start+n) of an NF4 matrix with double-quantised absmax
// (absmax[b] = code2[qabsmax[b]] * absmax2[b / 256] + offset: second-level blocks of 256 first-level blocks).
void ck_nf4_dequantize(const uint8_t *packed, const uint8_t *qabsmax, const float *absmax2, float offset,
                       const float *code2, int64_t start, int64_t n, float *out);
// Symmetric int8 per row: scale = absmax / 127, q = round-half-even(x / scale).
void ck_int8_quantize_rows(const float *x, int64_t rows, int64_t cols, int8_t *q, float *scales);
void ck_int8_dequantize_rows(const int8_t *q, const float *scales, int64_t rows, int64_t cols, float *out);
/// 1 when the CPU has VNNI (AVX-512 VNNI, AVX-VNNI or AMX-INT8): int8 products are exact and fast there.
int ck_int8_vnni(void);
/// C[M, N] (int32) = A[M, K] (int8) · B[N, K]ᵀ (int8), row-major, through oneDNN; 0 on success.
int ck_gemm_s8s8s32_nt(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B, int64_t ldb,
                       int32_t *C, int64_t ldc);
/// out = beta · out + acc · rowScales[r] · colScales[c] (the int8 product's scales applied).
void ck_w8a8_rescale(const int32_t *acc, int64_t rows, int64_t cols, int64_t ldacc, const float *rowScales,
                     const float *colScales, float beta, float *out, int64_t ldo);

// Fused float32 attention (attention.c) for queries that all see the same keys: scores, online softmax and
// the weighted sum of values per cache-sized key block. A head's keys and values are packed once
// (ck_attention_pack, buffers of the sizes below) and shared by every block of queries.
/// 1 when the fused kernel runs on this CPU for this head size (AVX-512, head size up to 80).
int ck_attention_fused_available(int64_t hd);
int64_t ck_attention_packed_keys_floats(int64_t nkeys, int64_t hd);
int64_t ck_attention_packed_values_floats(int64_t nkeys, int64_t hd);
/// Keys k[j · ldk + d] and values v[j · ldk + d] of one head (j < nkeys, d < hd) into the packed layouts.
void ck_attention_pack(const float *k, const float *v, int64_t ldk, int64_t nkeys, int64_t hd, float *kt, float *vp);
/// out[r · ldo + d] = softmax_j(scale · q_r · k_j) · v_j for r < rows; 0 on success, 1 when unavailable,
/// 2 when out of memory.
int ck_attention_fused(const float *q, int64_t ldq, const float *kt, const float *vp, int64_t nkeys, int64_t hd,
                       float scale, float *out, int64_t ldo, int64_t rows);

// Backward kernels (training).
#include "ck_backward.h"

#endif
