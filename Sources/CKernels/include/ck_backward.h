#ifndef CK_BACKWARD_H
#define CK_BACKWARD_H
#include <stddef.h>
#include <stdint.h>

// Backward kernels of the element-wise forward kernels in CKernels.h (same formulas, differentiated).
// dx outputs are overwritten and may alias dy; weight/bias gradients (dw, db) are accumulated and may be NULL.

// Gemma RMSNorm y = x * inv * (addOne + w), inv = 1 / sqrt(mean(x^2) + eps).
void ck_rmsnorm_rows_backward(const float *x, const float *dy, const float *w, float addOne, float eps,
                              int64_t rows, int64_t dim, float *dx, float *dw);
// LayerNorm y = (x - mean) * inv * w + b.
void ck_layernorm_rows_backward(const float *x, const float *dy, const float *w, float eps,
                                int64_t rows, int64_t dim, float *dx, float *dw, float *db);
// dx = dy * gelu_tanh'(x)   (dx may alias dy)
void ck_gelu_tanh_backward(const float *x, const float *dy, float *dx, size_t n);
// out = gelu_tanh(gate) * up:  dgate = dout * gelu_tanh'(gate) * up, dup = dout * gelu_tanh(gate)
// (dgate / dup may alias dout, not each other)
void ck_gelu_tanh_mul_backward(const float *gate, const float *up, const float *dout, float *dgate, float *dup, size_t n);
// capped = cap * tanh(raw / cap):  d(raw) = d(capped) * (1 - (capped / cap)^2), in place on dy.
void ck_softcap_backward(const float *capped, float *dy, size_t n, float cap);
// Softmax backward over rows of a [rows, cols] block: ds = p * (dp - sum_j p_j dp_j). ds may alias dp.
void ck_softmax_backward_rows(const float *p, const float *dp, float *ds, int64_t rows, int64_t cols);

#endif
