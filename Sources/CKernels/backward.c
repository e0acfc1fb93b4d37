#include "ck_backward.h"
#include <math.h>

#if defined(__x86_64__) && defined(__clang__)
#define CK_MULTI __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CK_MULTI
#endif

// Backward passes of the element-wise kernels. Row statistics are recomputed from the saved input in
// double, as the forward kernels accumulate them, so recomputation gives the forward's own inv/mean.

void ck_rmsnorm_rows_backward(const float *x, const float *dy, const float *w, float addOne, float eps,
                              int64_t rows, int64_t dim, float *dx, float *dw) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        const float *gr = dy + r * dim;
        float *dr = dx + r * dim;
        double ss = 0;
        for (int64_t i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        double inv = 1.0 / sqrt(ss / (double)dim + (double)eps);
        // y_j = x_j * inv * s_j (s = addOne + w); d inv / d x_k = -inv^3 x_k / dim
        double dot = 0;
        for (int64_t i = 0; i < dim; i++) dot += (double)gr[i] * (addOne + w[i]) * xr[i];
        if (dw) for (int64_t i = 0; i < dim; i++) dw[i] += (float)((double)gr[i] * xr[i] * inv);
        double c = dot * inv * inv * inv / (double)dim;
        for (int64_t i = 0; i < dim; i++) dr[i] = (float)((double)gr[i] * (addOne + w[i]) * inv - c * xr[i]);
    }
}

void ck_layernorm_rows_backward(const float *x, const float *dy, const float *w, float eps,
                                int64_t rows, int64_t dim, float *dx, float *dw, float *db) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        const float *gr = dy + r * dim;
        float *dr = dx + r * dim;
        double s = 0;
        for (int64_t i = 0; i < dim; i++) s += xr[i];
        double mean = s / (double)dim;
        double v = 0;
        for (int64_t i = 0; i < dim; i++) { double d = xr[i] - mean; v += d * d; }
        double inv = 1.0 / sqrt(v / (double)dim + (double)eps);
        // dx = inv * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w
        double sg = 0, sgx = 0;
        for (int64_t i = 0; i < dim; i++) {
            double xh = (xr[i] - mean) * inv, g = (double)gr[i] * w[i];
            sg += g;
            sgx += g * xh;
            if (dw) dw[i] += (float)((double)gr[i] * xh);
            if (db) db[i] += gr[i];
        }
        sg /= (double)dim;
        sgx /= (double)dim;
        for (int64_t i = 0; i < dim; i++) {
            double xh = (xr[i] - mean) * inv;
            dr[i] = (float)(inv * ((double)gr[i] * w[i] - sg - xh * sgx));
        }
    }
}

// gelu_tanh(x) = 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3)
static inline void gelu_tanh_value_and_slope(float x, float *value, float *slope) {
    const float c = 0.7978845608028654f;
    float u = c * (x + 0.044715f * x * x * x);
    float t = tanhf(u);
    *value = 0.5f * x * (1.0f + t);
    *slope = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * c * (1.0f + 3.0f * 0.044715f * x * x);
}

void ck_gelu_tanh_backward(const float *x, const float *dy, float *dx, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v, s;
        gelu_tanh_value_and_slope(x[i], &v, &s);
        dx[i] = dy[i] * s;
    }
}

void ck_gelu_tanh_mul_backward(const float *gate, const float *up, const float *dout, float *dgate, float *dup, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v, s, g = dout[i], u = up[i];
        gelu_tanh_value_and_slope(gate[i], &v, &s);
        dgate[i] = g * s * u;
        dup[i] = g * v;
    }
}

void ck_softcap_backward(const float *capped, float *dy, size_t n, float cap) {
    float inv = 1.0f / cap;
    for (size_t i = 0; i < n; i++) {
        float t = capped[i] * inv;
        dy[i] *= 1.0f - t * t;
    }
}

CK_MULTI void ck_softmax_backward_rows(const float *p, const float *dp, float *ds, int64_t rows, int64_t cols) {
    // 16 independent partial sums so the dot product vectorises (attention rows are thousands long).
    for (int64_t r = 0; r < rows; r++) {
        const float *pr = p + r * cols, *gr = dp + r * cols;
        float *sr = ds + r * cols;
        float acc[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= cols; i += 16)
            for (int k = 0; k < 16; k++) acc[k] += pr[i + k] * gr[i + k];
        float dot = 0;
        for (int k = 0; k < 16; k++) dot += acc[k];
        for (; i < cols; i++) dot += pr[i] * gr[i];
        for (int64_t j = 0; j < cols; j++) sr[j] = pr[j] * (gr[j] - dot);
    }
}
