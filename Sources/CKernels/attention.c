#include "CKernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Fused float32 attention for problems whose queries all see the same keys (the vision tower): scores,
// an online softmax and the weighted sum of values are formed one key block at a time, in tiles that
// stay in the core's caches, instead of writing and re-reading a queries × keys score matrix.
//
// Layout: a head's keys are packed in chunks of 64 keys, each chunk transposed, kt[(j / 64) · 64·hd + d · 64
// + j % 64] (keys rounded up to 64, zero keys after the last), and its values row by row, vp[j · hdp + d] (hdp = head_dim rounded up to
// 16, zero padding). Each query row keeps a running maximum m, a running sum l and an unnormalised output
// row; a new key block with a larger maximum rescales both by exp(m_old − m_new).

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define CK_HAVE_AVX512_PATH 1
#endif

enum { KEY_BLOCK = 256, KEY_CHUNK = 64, ROW_GROUP = 16, MICRO_ROWS = 4, MAX_HDP = 80 };

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

int64_t ck_attention_packed_keys_floats(int64_t nkeys, int64_t hd) { return hd * round_up(nkeys, KEY_CHUNK); }
int64_t ck_attention_packed_values_floats(int64_t nkeys, int64_t hd) { return round_up(nkeys, KEY_CHUNK) * round_up(hd, 16); }

void ck_attention_pack(const float *k, const float *v, int64_t ldk, int64_t nkeys, int64_t hd, float *kt, float *vp) {
    int64_t padded = round_up(nkeys, KEY_CHUNK), hdp = round_up(hd, 16);
    // Keys in chunks of 64, each chunk transposed and contiguous (hd rows of 64): the score kernel walks one
    // chunk's rows in order, where a transposed matrix with a row stride of nkeys floats would make every row
    // fall into the same L1 sets.
    for (int64_t c0 = 0; c0 < padded; c0 += KEY_CHUNK) {
        float *chunk = kt + c0 * hd;
        int64_t jn = nkeys - c0 < KEY_CHUNK ? nkeys - c0 : KEY_CHUNK;
        // The chunk's 64 source rows (hd floats each) stay in L1 while each output row is written in order.
        for (int64_t d = 0; d < hd; d++) {
            float *dst = chunk + d * KEY_CHUNK;
            const float *src = k + c0 * ldk + d;
            int64_t j = 0;
            for (; j < jn; j++) dst[j] = src[j * ldk];
            for (; j < KEY_CHUNK; j++) dst[j] = 0;
        }
    }
    for (int64_t j = 0; j < padded; j++) {
        float *dst = vp + j * hdp;
        if (j < nkeys) {
            memcpy(dst, v + j * ldk, (size_t)hd * sizeof(float));
            for (int64_t d = hd; d < hdp; d++) dst[d] = 0;
        } else {
            memset(dst, 0, (size_t)hdp * sizeof(float));
        }
    }
}

#ifdef CK_HAVE_AVX512_PATH
#define AVX512 __attribute__((target("avx512f")))
#define INLINE512 static inline __attribute__((always_inline, target("avx512f")))

// exp(x) for x ≤ 0 (scores minus their running maximum): x = k·ln2 + r, a degree-6 polynomial in r and
// 2^k applied by scalef, which flushes to 0 below the float range instead of wrapping the exponent.
INLINE512 __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

// s[r][0..64) = Σ_d q[r][d] · kt[d][0..64) for MICRO_ROWS rows (q rows hd apart, kt one packed chunk, s rows
// lds apart).
INLINE512 void scores_micro(const float *q, int64_t hd, const float *kt, float *s, int64_t lds) {
    __m512 acc[MICRO_ROWS][4];
    for (int r = 0; r < MICRO_ROWS; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
    for (int64_t d = 0; d < hd; d++) {
        const float *kd = kt + d * KEY_CHUNK;
        __m512 b0 = _mm512_loadu_ps(kd), b1 = _mm512_loadu_ps(kd + 16);
        __m512 b2 = _mm512_loadu_ps(kd + 32), b3 = _mm512_loadu_ps(kd + 48);
        for (int r = 0; r < MICRO_ROWS; r++) {
            __m512 a = _mm512_set1_ps(q[r * hd + d]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(a, b3, acc[r][3]);
        }
    }
    for (int r = 0; r < MICRO_ROWS; r++)
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(s + r * lds + c * 16, acc[r][c]);
}

// o[r][0..16·NV) += Σ_j e[r][j] · vp[j][0..16·NV) over 64 keys, for MICRO_ROWS rows.
INLINE512 void values_micro(const float *e, int64_t lde, const float *vp, int64_t hdp, float *o, const int NV) {
    __m512 acc[MICRO_ROWS][5];
    for (int r = 0; r < MICRO_ROWS; r++)
        for (int c = 0; c < NV; c++) acc[r][c] = _mm512_loadu_ps(o + r * hdp + c * 16);
    for (int j = 0; j < KEY_CHUNK; j++) {
        const float *vj = vp + j * hdp;
        __m512 b[5];
        for (int c = 0; c < NV; c++) b[c] = _mm512_loadu_ps(vj + c * 16);
        for (int r = 0; r < MICRO_ROWS; r++) {
            __m512 a = _mm512_set1_ps(e[r * lde + j]);
            for (int c = 0; c < NV; c++) acc[r][c] = _mm512_fmadd_ps(a, b[c], acc[r][c]);
        }
    }
    for (int r = 0; r < MICRO_ROWS; r++)
        for (int c = 0; c < NV; c++) _mm512_storeu_ps(o + r * hdp + c * 16, acc[r][c]);
}

AVX512 static void values_group(const float *e, int64_t lde, const float *vp, int64_t hdp, float *o, int64_t chunks) {
    for (int64_t c = 0; c < chunks; c++) {
        for (int r = 0; r < ROW_GROUP; r += MICRO_ROWS) {
            const float *er = e + r * lde + c * KEY_CHUNK;
            const float *vc = vp + c * KEY_CHUNK * hdp;
            float *orow = o + r * hdp;
            switch (hdp / 16) {
            case 1: values_micro(er, lde, vc, hdp, orow, 1); break;
            case 2: values_micro(er, lde, vc, hdp, orow, 2); break;
            case 3: values_micro(er, lde, vc, hdp, orow, 3); break;
            case 4: values_micro(er, lde, vc, hdp, orow, 4); break;
            default: values_micro(er, lde, vc, hdp, orow, 5); break;
            }
        }
    }
}

// One key block for ROW_GROUP rows: scores into s, the online-softmax update of m, l and o, then o += e · v.
AVX512 static void attend_block(const float *qs, int64_t hd, const float *kt, const float *vp, int64_t hdp,
                                int64_t valid, int64_t width, float *s, float *m, float *l, float *o) {
    int64_t chunks = width / KEY_CHUNK;
    for (int64_t c = 0; c < chunks; c++)
        for (int r = 0; r < ROW_GROUP; r += MICRO_ROWS)
            scores_micro(qs + r * hd, hd, kt + c * KEY_CHUNK * hd, s + r * width + c * KEY_CHUNK, width);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    // Four independent maxima and sums per row (64 keys a step): one chain would wait on each add's latency.
    int64_t full = valid / KEY_CHUNK * KEY_CHUNK;
    for (int r = 0; r < ROW_GROUP; r++) {
        float *sr = s + r * width;
        __m512 mx0 = ninf, mx1 = ninf, mx2 = ninf, mx3 = ninf;
        int64_t j = 0;
        for (; j < full; j += KEY_CHUNK) {
            mx0 = _mm512_max_ps(mx0, _mm512_loadu_ps(sr + j));
            mx1 = _mm512_max_ps(mx1, _mm512_loadu_ps(sr + j + 16));
            mx2 = _mm512_max_ps(mx2, _mm512_loadu_ps(sr + j + 32));
            mx3 = _mm512_max_ps(mx3, _mm512_loadu_ps(sr + j + 48));
        }
        for (; j + 16 <= valid; j += 16) mx0 = _mm512_max_ps(mx0, _mm512_loadu_ps(sr + j));
        __mmask16 tail = (__mmask16)((1u << (valid - j)) - 1u);
        if (j < valid) mx1 = _mm512_max_ps(mx1, _mm512_mask_loadu_ps(ninf, tail, sr + j));
        float blockMax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(mx0, mx1), _mm512_max_ps(mx2, mx3)));
        float mNew = m[r] > blockMax ? m[r] : blockMax;
        __m512 mv = _mm512_set1_ps(mNew);
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (j = 0; j < full; j += KEY_CHUNK) {
            __m512 e0 = exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + j), mv));
            __m512 e1 = exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + j + 16), mv));
            __m512 e2 = exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + j + 32), mv));
            __m512 e3 = exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + j + 48), mv));
            _mm512_storeu_ps(sr + j, e0);
            _mm512_storeu_ps(sr + j + 16, e1);
            _mm512_storeu_ps(sr + j + 32, e2);
            _mm512_storeu_ps(sr + j + 48, e3);
            s0 = _mm512_add_ps(s0, e0);
            s1 = _mm512_add_ps(s1, e1);
            s2 = _mm512_add_ps(s2, e2);
            s3 = _mm512_add_ps(s3, e3);
        }
        for (; j + 16 <= valid; j += 16) {
            __m512 ev = exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + j), mv));
            _mm512_storeu_ps(sr + j, ev);
            s0 = _mm512_add_ps(s0, ev);
        }
        if (j < valid) {
            __m512 ev = _mm512_maskz_mov_ps(tail, exp512(_mm512_sub_ps(_mm512_mask_loadu_ps(mv, tail, sr + j), mv)));
            _mm512_storeu_ps(sr + j, ev);
            s1 = _mm512_add_ps(s1, ev);
            j += 16;
        }
        for (; j < width; j += 16) _mm512_storeu_ps(sr + j, _mm512_setzero_ps());
        __m512 sum = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
        float blockSum = _mm512_reduce_add_ps(sum);
        if (m[r] == -INFINITY) {
            l[r] = blockSum;
        } else {
            float corr = expf(m[r] - mNew);
            l[r] = l[r] * corr + blockSum;
            if (corr != 1.0f) {
                __m512 cv = _mm512_set1_ps(corr);
                for (int64_t d = 0; d < hdp; d += 16) _mm512_storeu_ps(o + r * hdp + d, _mm512_mul_ps(cv, _mm512_loadu_ps(o + r * hdp + d)));
            }
        }
        m[r] = mNew;
    }
    values_group(s, width, vp, hdp, o, chunks);
}

AVX512 static int attention_avx512(const float *q, int64_t ldq, const float *kt, const float *vp, int64_t nkeys, int64_t hd,
                                   float scale, float *out, int64_t ldo, int64_t rows) {
    int64_t padded = round_up(nkeys, KEY_CHUNK), hdp = round_up(hd, 16);
    int64_t groups = (rows + ROW_GROUP - 1) / ROW_GROUP, prow = groups * ROW_GROUP;
    // Scaled queries (zero rows after the last), unnormalised outputs, running maxima and sums, one score tile.
    size_t floats = (size_t)(prow * hd + prow * hdp + 2 * prow + ROW_GROUP * KEY_BLOCK);
    float *buf = aligned_alloc(64, round_up((int64_t)floats * sizeof(float), 64));
    if (!buf) return 2;
    float *qs = buf, *o = qs + prow * hd, *m = o + prow * hdp, *l = m + prow, *s = l + prow;
    for (int64_t r = 0; r < prow; r++) {
        float *dst = qs + r * hd;
        if (r < rows) { for (int64_t d = 0; d < hd; d++) dst[d] = q[r * ldq + d] * scale; }
        else memset(dst, 0, (size_t)hd * sizeof(float));
        m[r] = -INFINITY;
        l[r] = 0;
    }
    memset(o, 0, (size_t)(prow * hdp) * sizeof(float));
    for (int64_t k0 = 0; k0 < padded; k0 += KEY_BLOCK) {
        int64_t width = padded - k0 < KEY_BLOCK ? padded - k0 : KEY_BLOCK;
        int64_t valid = nkeys - k0 < width ? nkeys - k0 : width;
        for (int64_t g = 0; g < groups; g++)
            attend_block(qs + g * ROW_GROUP * hd, hd, kt + k0 * hd, vp + k0 * hdp, hdp, valid, width, s,
                         m + g * ROW_GROUP, l + g * ROW_GROUP, o + g * ROW_GROUP * hdp);
    }
    for (int64_t r = 0; r < rows; r++) {
        float inv = 1.0f / l[r];
        for (int64_t d = 0; d < hd; d++) out[r * ldo + d] = o[r * hdp + d] * inv;
    }
    free(buf);
    return 0;
}
#endif

int ck_attention_fused_available(int64_t hd) {
#ifdef CK_HAVE_AVX512_PATH
    return ck_cpu_has_avx512f() && hd > 0 && round_up(hd, 16) <= MAX_HDP;
#else
    (void)hd;
    return 0;
#endif
}

int ck_attention_fused(const float *q, int64_t ldq, const float *kt, const float *vp, int64_t nkeys, int64_t hd,
                       float scale, float *out, int64_t ldo, int64_t rows) {
    if (!ck_attention_fused_available(hd) || nkeys <= 0 || rows < 0) return 1;
#ifdef CK_HAVE_AVX512_PATH
    return attention_avx512(q, ldq, kt, vp, nkeys, hd, scale, out, ldo, rows);
#else
    return 1;
#endif
}
