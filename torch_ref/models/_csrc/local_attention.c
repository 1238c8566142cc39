/* ACmix's local window attention on the CPU: fused logits, softmax and weighted sum per query
 * row, and a backward whose key/value pass gathers for each padded pixel from the queries that
 * see it (no scatter-add, no atomics). Plain C with its own threads, called through ctypes
 * (torch_ref/models/attention_kernel.py), so it depends on no torch ABI.
 *
 * Exported, shape = {n, c, ho, wo, h, w, k, dilation, stride, pad}, k <= acmix_attention_max_k(),
 * pad < h and pad < w (the maps k and v are read reflection-padded by pad):
 *   acmix_attention_layout_{f32,f64}(shape, out): out = {rw, margin}: att is (n, ho, k * k, rw)
 *       with each row's wo weights at [margin, margin + wo)
 *   acmix_attention_forward_{f32,f64}(q, k, v, centre, att or NULL, out, shape, nthreads)
 *   acmix_attention_backward_{f32,f64}(q, k, v, att, grad_out, q_rows, go_rows, grad_logits,
 *                                      grad_q, grad_centre, grad_k, grad_v, shape, nthreads)
 * with workspaces q_rows and go_rows (n, ho, c, rw) and grad_logits (n, ho, k * k, rw); they
 * return 0, or 1 when a scratch allocation failed. Layouts in local_attention_body.h.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ATTN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ATTN_CLONES
#endif

#define INLINE static inline __attribute__((always_inline))
#define MAX_THREADS 256
#define MAX_K 64 /* the largest window side */
#define BLOCK 8 /* accumulators a block (8 AVX-512 or 16 AVX2 registers); 8 cases below */
#define VECTOR_BYTES 64 /* one AVX-512 register, two AVX2 or four SSE2 ones */

typedef struct {
    int64_t n, c, ho, wo, h, w, pad, hp, wp, kk;
    int k, d, s;
} Geometry;

static Geometry geometry(const int64_t *shape) {
    const int64_t pad = shape[9];
    Geometry g = {shape[0], shape[1], shape[2], shape[3], shape[4], shape[5], pad,
                  shape[4] + 2 * pad, shape[5] + 2 * pad, shape[6] * shape[6],
                  (int)shape[6], (int)shape[7], (int)shape[8]};
    return g;
}

/* Map index of padded index i: reflection without repeating the edge (pad < size). */
INLINE int64_t reflect(int64_t i, int64_t pad, int64_t size) {
    i -= pad;
    return i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;
}

int acmix_attention_max_k(void) { return MAX_K; }

typedef int (*ChunkFn)(const void *args, int64_t begin, int64_t end);

typedef struct {
    ChunkFn fn;
    const void *args;
    int64_t begin, end;
    int status;
} Job;

static void *run_job(void *p) {
    Job *job = p;
    job->status = job->fn(job->args, job->begin, job->end);
    return NULL;
}

/* fn over [0, total) in nthreads contiguous chunks; the caller's thread runs the first. */
static int parallel_for(ChunkFn fn, const void *args, int64_t total, int nthreads) {
    if (nthreads > total) nthreads = (int)total;
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    if (nthreads < 1) nthreads = 1;
    Job jobs[MAX_THREADS];
    pthread_t threads[MAX_THREADS];
    int started[MAX_THREADS];
    for (int t = 0; t < nthreads; t++) {
        Job job = {fn, args, total * t / nthreads, total * (t + 1) / nthreads, 0};
        jobs[t] = job;
    }
    for (int t = 1; t < nthreads; t++) {
        started[t] = pthread_create(&threads[t], NULL, run_job, &jobs[t]) == 0;
        if (!started[t]) run_job(&jobs[t]);
    }
    run_job(&jobs[0]);
    int status = jobs[0].status;
    for (int t = 1; t < nthreads; t++) {
        if (started[t]) pthread_join(threads[t], NULL);
        status |= jobs[t].status;
    }
    return status;
}

/* l[x] = exp(l[x] - m[x]) with l[x] <= m[x], branch-free so that it vectorises: Cody-Waite
 * reduction by ln 2 and Cephes' degree-5 polynomial (within 2 ulp of expf); 0 below -86.5
 * (exp is under 3e-38 there, nothing next to the row's largest term, 1), NaN kept. */
INLINE void exp_row_f32(float *l, const float *m, int64_t len) {
#pragma omp simd
    for (int64_t x = 0; x < len; x++) {
        float v = l[x] - m[x];
        float nan = v;
        int under = v < -86.5f, is_nan = v != v;
        v = under || is_nan ? -86.5f : v;
        float t = v * 1.44269504088896341f + 12582912.0f; /* round to nearest by 1.5 * 2^23 */
        float fn = t - 12582912.0f;
        int32_t ti;
        memcpy(&ti, &t, sizeof ti);
        int32_t n = ti - 0x4B400000;
        float r = v - fn * 0.693359375f;
        r = r - fn * -2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        int32_t pi;
        memcpy(&pi, &p, sizeof pi);
        pi += n * (1 << 23);
        memcpy(&p, &pi, sizeof p);
        l[x] = is_nan ? nan : under ? 0.0f : p;
    }
}

INLINE void exp_row_f64(double *l, const double *m, int64_t len) {
    for (int64_t x = 0; x < len; x++) l[x] = exp(l[x] - m[x]);
}

#define T float
#define SFX f32
#define EXP_ROW exp_row_f32
#include "local_attention_body.h"
#undef T
#undef SFX
#undef EXP_ROW

#define T double
#define SFX f64
#define EXP_ROW exp_row_f64
#include "local_attention_body.h"
#undef T
#undef SFX
#undef EXP_ROW
