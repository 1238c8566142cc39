/* The kernels for one element type, included by local_attention.c once per type with T (the
 * type), SFX (name suffix) and EXP_ROW (in-place exp of a row) defined.
 *
 * Tensors, all contiguous: q, out, grad_out, grad_q (n, c, ho, wo); k, v, grad_k, grad_v
 * (n, c, h, w); centre, grad_centre (n, ho, wo). The maps are read reflection-padded by `pad`
 * (hp = h + 2 pad, wp = w + 2 pad): window offset j = a * k + b of query (y, x) reads padded
 * pixel (s y + a d, s x + b d), which is map pixel (reflect(s y + a d - pad), reflect(...)).
 *
 * Rows are vectorised along x in whole vectors: a query row is computed on `width` lanes (wo
 * rounded up to whole vectors); lanes past wo compute on zeros or on neighbouring data and are
 * never stored, and no lane mixes with another. Window rows are padded into a ring of recent
 * padded rows (each row once per task range), as s phases (element ph + s i at phase ph, index
 * i), so that offset b reads a contiguous segment: phase (b d) % s, shifted by (b d) / s. The
 * key pass computes gradients of padded rows and folds the padding back (reflection's adjoint).
 *
 * The attention weights (att) and their gradient (grad_logits) are kept in the kernel's own
 * layout (n, ho, kk, rw): each row holds its wo values at [margin, margin + wo) and zeros around
 * them, margin the largest shift (k - 1) d / s and rw = margin + pw with pw the phase width
 * rounded up to whole vectors. The backward copies q and grad_out into the same row layout
 * (n, ho, c, rw), so that the key pass reads every shifted row in place.
 *
 * Sums run in the order of the offset loop in local_attention.py: logits over channels, then
 * everything over offsets j in order.
 */
#define FN_(name, sfx) name##_##sfx
#define FN2_(name, sfx) FN_(name, sfx)
#define FN(name) FN2_(name, SFX)
#define VEC FN(vec)
#define LANES ((int64_t)(VECTOR_BYTES / sizeof(T)))
#define VLOAD(p) (*(const VEC *)(p))
#define VSTORE(p, v) (*(VEC *)(p) = (v))

typedef T VEC __attribute__((vector_size(VECTOR_BYTES), aligned(sizeof(T)), may_alias));

/* dst[t][x] = sum over ch < c of a[ch * as + x] * b[t][ch * bs + x], for t < NB. */
INLINE void FN(dots_block)(T *const *dst, const T *a, int64_t as, const T *const *b, int64_t bs,
                           int64_t c, int64_t width, const int NB) {
    for (int64_t x = 0; x < width; x += LANES) {
        VEC acc[BLOCK];
        for (int t = 0; t < NB; t++) acc[t] = (VEC){0};
        for (int64_t ch = 0; ch < c; ch++) {
            VEC av = VLOAD(a + ch * as + x);
            for (int t = 0; t < NB; t++) acc[t] += av * VLOAD(b[t] + ch * bs + x);
        }
        for (int t = 0; t < NB; t++) VSTORE(dst[t] + x, acc[t]);
    }
}

/* dots_block over n outputs, in blocks of at most BLOCK (independent accumulators) and as
 * even as possible. */
INLINE void FN(dots)(T *const *dst, const T *a, int64_t as, const T *const *b, int64_t bs,
                     int64_t c, int64_t width, int n) {
    const int blocks = (n + BLOCK - 1) / BLOCK;
    for (int i = 0, t = 0; i < blocks; i++) {
        const int nb = (n - t) / (blocks - i);
        switch (nb) {
#define CASE(NB) case NB: FN(dots_block)(dst + t, a, as, b + t, bs, c, width, NB); break;
            CASE(8) CASE(7) CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) default: CASE(1)
#undef CASE
        }
        t += nb;
    }
}

/* dst[ch * ds + x] = sum over terms t < nt of w[t][x] * b[t][ch * bs + x], for ch < NC. */
INLINE void FN(wsum_block)(T *dst, int64_t ds, const T *const *w, const T *const *b, int64_t bs,
                           int nt, int64_t width, const int NC) {
    for (int64_t x = 0; x < width; x += LANES) {
        VEC acc[BLOCK];
        for (int ch = 0; ch < NC; ch++) acc[ch] = (VEC){0};
        for (int t = 0; t < nt; t++) {
            VEC wv = VLOAD(w[t] + x);
            for (int ch = 0; ch < NC; ch++) acc[ch] += wv * VLOAD(b[t] + ch * bs + x);
        }
        for (int ch = 0; ch < NC; ch++) VSTORE(dst + ch * ds + x, acc[ch]);
    }
}

/* wsum_block over c channels, in blocks of at most BLOCK and as even as possible; b[t] points
 * at channel 0 (advanced here). */
INLINE void FN(wsum)(T *dst, int64_t ds, const T *const *w, const T **b, int64_t bs, int nt,
                     int64_t c, int64_t width) {
    const int64_t blocks = (c + BLOCK - 1) / BLOCK;
    for (int64_t i = 0, ch = 0; i < blocks; i++) {
        const int nc = (int)((c - ch) / (blocks - i));
        switch (nc) {
#define CASE(NC) case NC: FN(wsum_block)(dst, ds, w, b, bs, nt, width, NC); break;
            CASE(8) CASE(7) CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) default: CASE(1)
#undef CASE
        }
        for (int t = 0; t < nt; t++) b[t] += nc * bs;
        dst += nc * ds;
        ch += nc;
    }
}

/* dst[0, w) = zeros, then src[0, len) from dst[margin], then zeros. */
INLINE void FN(load_row)(T *dst, const T *src, int64_t len, int64_t margin, int64_t w) {
    memset(dst, 0, margin * sizeof(T));
    memcpy(dst + margin, src, len * sizeof(T));
    memset(dst + margin + len, 0, (w - margin - len) * sizeof(T));
}

typedef struct {
    int64_t width;  /* query row width in whole vectors */
    int64_t pw;     /* phase width of a padded row: ceil(wp / s) in whole vectors */
    int64_t margin; /* the largest shift (k - 1) d / s */
    int64_t rw;     /* row width of the kernel's own layout: margin + pw */
    int64_t start[MAX_K];
} FN(Layout);

INLINE FN(Layout) FN(layout)(const Geometry *g) {
    FN(Layout) L;
    L.width = (g->wo + LANES - 1) / LANES * LANES;
    L.margin = (int64_t)(g->k - 1) * g->d / g->s;
    L.pw = ((g->wp + g->s - 1) / g->s + LANES - 1) / LANES * LANES;
    L.rw = L.margin + L.pw;
    for (int b = 0; b < g->k; b++) {
        int64_t off = (int64_t)b * g->d;
        L.start[b] = (off % g->s) * L.pw + off / g->s;
    }
    return L;
}

/* The last span = (k - 1) d + 1 padded rows of one map (all channels) read by a query row, each
 * as s phases of width pw, in slot pr % span; the key of a slot is bn * hp + pr. */
typedef struct {
    T *data;
    int64_t *key;
    int64_t span, size; /* slots; elements per slot: c s pw */
} FN(Ring);

INLINE void FN(ring_init)(FN(Ring) *r, T *data, int64_t *key, const Geometry *g,
                          const FN(Layout) *L) {
    r->data = data;
    r->key = key;
    r->span = (int64_t)(g->k - 1) * g->d + 1;
    r->size = g->c * g->s * L->pw;
    for (int64_t i = 0; i < r->span; i++) key[i] = -1;
}

/* base[a] = channel 0 of window row a of query row (bn, y), padding rows not in the ring. */
INLINE void FN(ring_rows)(FN(Ring) *r, const T **base, const T *map, const Geometry *g,
                          const FN(Layout) *L, int64_t bn, int64_t y) {
    const int s = g->s;
    const int64_t pad = g->pad, w = g->w;
    for (int a = 0; a < g->k; a++) {
        const int64_t pr = s * y + (int64_t)a * g->d, slot = pr % r->span;
        T *dst = r->data + slot * r->size;
        base[a] = dst;
        if (r->key[slot] == bn * g->hp + pr) continue;
        r->key[slot] = bn * g->hp + pr;
        const int64_t row = reflect(pr, pad, g->h);
        for (int64_t ch = 0; ch < g->c; ch++) {
            const T *src = map + ((bn * g->c + ch) * g->h + row) * w;
            for (int ph = 0; ph < s; ph++, dst += L->pw) {
                const int64_t n = (g->wp - ph + s - 1) / s;
                if (s == 1) {
                    for (int64_t i = 0; i < pad; i++) dst[i] = src[pad - i];
                    memcpy(dst + pad, src, w * sizeof(T));
                    for (int64_t i = 0; i < pad; i++) dst[pad + w + i] = src[w - 2 - i];
                } else {
                    for (int64_t i = 0; i < n; i++) dst[i] = src[reflect(ph + s * i, pad, w)];
                }
                memset(dst + n, 0, (L->pw - n) * sizeof(T));
            }
        }
    }
}

/* dst row j (stride ds) = sum over ch of a[ch] (stride as) * window row at offset j. */
INLINE void FN(window_dots)(T *dst, int64_t ds, const T *a, int64_t as, const T **base,
                            const Geometry *g, const FN(Layout) *L, const T **ptrs, T **rows) {
    for (int ar = 0; ar < g->k; ar++) {
        for (int b = 0; b < g->k; b++) {
            ptrs[b] = base[ar] + L->start[b];
            rows[b] = dst + (ar * g->k + b) * ds;
        }
        FN(dots)(rows, a, as, ptrs, g->s * L->pw, g->c, L->width, g->k);
    }
}

/* dst[ch] (stride ds) = sum over offsets j of w row j (stride ws) * window row at offset j. */
INLINE void FN(window_wsum)(T *dst, int64_t ds, const T *w, int64_t ws, const T **base,
                            const Geometry *g, const FN(Layout) *L, const T **ptrs,
                            const T **rows) {
    for (int ar = 0; ar < g->k; ar++)
        for (int b = 0; b < g->k; b++) {
            ptrs[ar * g->k + b] = base[ar] + L->start[b];
            rows[ar * g->k + b] = w + (ar * g->k + b) * ws;
        }
    FN(wsum)(dst, ds, rows, ptrs, g->s * L->pw, (int)g->kk, g->c, L->width);
}

/* Zero a row of the kernel's layout outside its wo values. */
INLINE void FN(clear_margins)(T *row, const Geometry *g, const FN(Layout) *L) {
    memset(row, 0, L->margin * sizeof(T));
    memset(row + L->margin + g->wo, 0, (L->rw - L->margin - g->wo) * sizeof(T));
}

/* One thread's scratch: two rings with keys, c rows, kk rows and three single rows of query
 * width, and kk pointers twice. */
typedef struct {
    FN(Ring) ring[2];
    T *rows, *logits, *row[3];
    const T **ptrs, **wptrs, *base[2][MAX_K];
    void *block;
} FN(Scratch);

INLINE int FN(scratch)(FN(Scratch) *sc, const Geometry *g, const FN(Layout) *L) {
    const int64_t span = (int64_t)(g->k - 1) * g->d + 1, ring = span * g->c * g->s * L->pw;
    const size_t nt = 2 * (size_t)ring + (size_t)(g->c + g->kk + 3) * L->width;
    char *block = malloc(nt * sizeof(T) + 2 * span * sizeof(int64_t) +
                         2 * (size_t)g->kk * sizeof(T *));
    if (!block) return 1;
    T *t = (T *)block;
    int64_t *keys = (int64_t *)(t + nt);
    FN(ring_init)(&sc->ring[0], t, keys, g, L);
    FN(ring_init)(&sc->ring[1], t + ring, keys + span, g, L);
    t += 2 * ring;
    sc->rows = t, t += g->c * L->width;
    sc->logits = t, t += g->kk * L->width;
    for (int i = 0; i < 3; i++) sc->row[i] = t, t += L->width;
    sc->ptrs = (const T **)(keys + 2 * span);
    sc->wptrs = sc->ptrs + g->kk;
    sc->block = block;
    return 0;
}

typedef struct {
    Geometry g;
    const T *q, *k, *v, *centre;
    T *att, *out; /* att may be NULL (no gradient wanted) */
} FN(ForwardArgs);

/* Query rows [begin, end) of the flattened (n, ho): logits, softmax, weighted sum. */
ATTN_CLONES static int FN(forward_rows)(const void *args, int64_t begin, int64_t end) {
    const FN(ForwardArgs) *A = args;
    const Geometry *g = &A->g;
    const int64_t wo = g->wo, c = g->c, kk = g->kk, plane = g->ho * g->wo;
    const FN(Layout) L = FN(layout)(g);
    const int64_t W = L.width;
    FN(Scratch) sc;
    if (FN(scratch)(&sc, g, &L)) return 1;
    T *q = sc.rows, *m = sc.row[0], *sum = sc.row[1], *centre = sc.row[2];
    for (int64_t task = begin; task < end; task++) {
        const int64_t bn = task / g->ho, y = task % g->ho, row = bn * c * plane + y * wo;
        T *logits = A->att ? A->att + (bn * g->ho + y) * kk * L.rw + L.margin : sc.logits;
        const int64_t ls = A->att ? L.rw : W;
        for (int64_t ch = 0; ch < c; ch++)
            FN(load_row)(q + ch * W, A->q + row + ch * plane, wo, 0, W);
        FN(load_row)(centre, A->centre + bn * plane + y * wo, wo, 0, W);
        FN(ring_rows)(&sc.ring[0], sc.base[0], A->k, g, &L, bn, y);
        FN(window_dots)(logits, ls, q, W, sc.base[0], g, &L, sc.ptrs, (T **)sc.wptrs);
        for (int64_t j = 0; j < kk; j++)
            for (int64_t x = 0; x < W; x += LANES)
                VSTORE(logits + j * ls + x, VLOAD(logits + j * ls + x) + VLOAD(centre + x));
        if (kk == 1) {
            for (int64_t x = 0; x < W; x++) logits[x] = 1;
        } else {
            for (int64_t x = 0; x < W; x++) m[x] = logits[x], sum[x] = 0;
            for (int64_t j = 1; j < kk; j++) {
                const T *l = logits + j * ls;
#pragma omp simd
                for (int64_t x = 0; x < W; x++) m[x] = l[x] > m[x] ? l[x] : m[x];
            }
            for (int64_t j = 0; j < kk; j++) {
                EXP_ROW(logits + j * ls, m, W);
                for (int64_t x = 0; x < W; x += LANES)
                    VSTORE(sum + x, VLOAD(sum + x) + VLOAD(logits + j * ls + x));
            }
            for (int64_t j = 0; j < kk; j++)
                for (int64_t x = 0; x < W; x += LANES)
                    VSTORE(logits + j * ls + x, VLOAD(logits + j * ls + x) / VLOAD(sum + x));
        }
        if (A->att)
            for (int64_t j = 0; j < kk; j++) FN(clear_margins)(logits - L.margin + j * ls, g, &L);
        FN(ring_rows)(&sc.ring[1], sc.base[1], A->v, g, &L, bn, y);
        FN(window_wsum)(q, W, logits, ls, sc.base[1], g, &L, sc.ptrs, sc.wptrs);
        for (int64_t ch = 0; ch < c; ch++)
            memcpy(A->out + row + ch * plane, q + ch * W, wo * sizeof(T));
    }
    free(sc.block);
    return 0;
}

typedef struct {
    Geometry g;
    const T *q, *k, *v, *att, *grad_out;
    T *q_rows, *go_rows, *grad_logits; /* workspace in the kernel's layout */
    T *grad_q, *grad_centre, *grad_k, *grad_v;
} FN(BackwardArgs);

/* Query rows [begin, end): q and grad_out into the kernel's row layout. */
ATTN_CLONES static int FN(backward_rows)(const void *args, int64_t begin, int64_t end) {
    const FN(BackwardArgs) *A = args;
    const Geometry *g = &A->g;
    const FN(Layout) L = FN(layout)(g);
    const int64_t plane = g->ho * g->wo;
    for (int64_t task = begin; task < end; task++) {
        const int64_t bn = task / g->ho, y = task % g->ho;
        for (int64_t ch = 0; ch < g->c; ch++) {
            const int64_t src = (bn * g->c + ch) * plane + y * g->wo;
            const int64_t dst = (task * g->c + ch) * L.rw;
            FN(load_row)(A->q_rows + dst, A->q + src, g->wo, L.margin, L.rw);
            FN(load_row)(A->go_rows + dst, A->grad_out + src, g->wo, L.margin, L.rw);
        }
    }
    return 0;
}

/* Query rows [begin, end): gradients of the logits (for the key pass), of q and of the centre
 * logit. With row sum r = sum_j att_j (go . v_j), grad_logit_j = att_j (go . v_j - r). */
ATTN_CLONES static int FN(backward_queries)(const void *args, int64_t begin, int64_t end) {
    const FN(BackwardArgs) *A = args;
    const Geometry *g = &A->g;
    const int64_t wo = g->wo, c = g->c, kk = g->kk, plane = g->ho * g->wo;
    const FN(Layout) L = FN(layout)(g);
    const int64_t W = L.width, rw = L.rw;
    FN(Scratch) sc;
    if (FN(scratch)(&sc, g, &L)) return 1;
    T *gq = sc.rows, *row_sum = sc.row[0], *gc = sc.row[1];
    for (int64_t task = begin; task < end; task++) {
        const int64_t bn = task / g->ho, y = task % g->ho, row = bn * c * plane + y * wo;
        T *gl = A->grad_logits + task * kk * rw;
        if (kk == 1) { /* one window position: the softmax is constant */
            memset(gl, 0, rw * sizeof(T));
            memset(A->grad_centre + bn * plane + y * wo, 0, wo * sizeof(T));
            for (int64_t ch = 0; ch < c; ch++)
                memset(A->grad_q + row + ch * plane, 0, wo * sizeof(T));
            continue;
        }
        const T *att = A->att + task * kk * rw + L.margin;
        const T *go = A->go_rows + task * c * rw + L.margin;
        FN(ring_rows)(&sc.ring[1], sc.base[1], A->v, g, &L, bn, y);
        FN(window_dots)(gl + L.margin, rw, go, rw, sc.base[1], g, &L, sc.ptrs, (T **)sc.wptrs);
        for (int64_t x = 0; x < W; x += LANES) {
            VEC r = (VEC){0};
            for (int64_t j = 0; j < kk; j++)
                r += VLOAD(att + j * rw + x) * VLOAD(gl + L.margin + j * rw + x);
            VSTORE(row_sum + x, r);
        }
        for (int64_t x = 0; x < W; x++) gc[x] = 0;
        for (int64_t j = 0; j < kk; j++) {
            T *l = gl + j * rw;
            for (int64_t x = 0; x < W; x += LANES) {
                VEC v = VLOAD(att + j * rw + x) * (VLOAD(l + L.margin + x) - VLOAD(row_sum + x));
                VSTORE(l + L.margin + x, v);
                VSTORE(gc + x, VLOAD(gc + x) + v);
            }
            FN(clear_margins)(l, g, &L);
        }
        memcpy(A->grad_centre + bn * plane + y * wo, gc, wo * sizeof(T));
        FN(ring_rows)(&sc.ring[0], sc.base[0], A->k, g, &L, bn, y);
        FN(window_wsum)(gq, W, gl + L.margin, rw, sc.base[0], g, &L, sc.ptrs, sc.wptrs);
        for (int64_t ch = 0; ch < c; ch++)
            memcpy(A->grad_q + row + ch * plane, gq + ch * W, wo * sizeof(T));
    }
    free(sc.block);
    return 0;
}

/* Map rows [begin, end) of the flattened (n, h): each key and value pixel gathers from the
 * queries whose windows hold it, so that every output row has one writer. Map row r appears as
 * padded row r + pad and, within pad of an edge, as its reflection. Window row a of query row
 * y = (py - a d) / s (where whole and in range) holds padded row py; in phase ph of that row,
 * offset b (with (b d) % s = ph) reads query column i - (b d) / s at index i, in place in the
 * kernel's row layout (zeros outside the row). Padded columns fold back onto map columns. */
ATTN_CLONES static int FN(backward_keys)(const void *args, int64_t begin, int64_t end) {
    const FN(BackwardArgs) *A = args;
    const Geometry *g = &A->g;
    const int64_t w = g->w, wp = g->wp, pad = g->pad, c = g->c, kk = g->kk, k = g->k;
    const int s = g->s;
    const FN(Layout) L = FN(layout)(g);
    const int64_t pw = L.pw, rw = L.rw;
    char *block = malloc((2 * (size_t)c * (pw + w)) * sizeof(T) + 4 * (size_t)kk * sizeof(T *));
    if (!block) return 1;
    T *dk = (T *)block, *dv = dk + c * pw, *acc_k = dv + c * pw, *acc_v = acc_k + c * w;
    const T **w1 = (const T **)(acc_v + c * w), **b1 = w1 + kk, **w2 = b1 + kk, **b2 = w2 + kk;
    for (int64_t task = begin; task < end; task++) {
        const int64_t bn = task / g->h, row = task % g->h;
        const int64_t rows[3] = {pad - row, row + pad, pad + 2 * (g->h - 1) - row};
        memset(acc_k, 0, 2 * c * w * sizeof(T));
        for (int r = 0; r < 3; r++) {
            const int64_t py = rows[r];
            if ((r != 1 && (py == row + pad || py < 0 || py >= g->hp))) continue;
            for (int ph = 0; ph < s; ph++) {
                int nt = 0;
                for (int a = 0; a < k; a++) {
                    const int64_t t = py - (int64_t)a * g->d, y = t / s;
                    if (t < 0 || t % s || y >= g->ho) continue;
                    const int64_t qrow = bn * g->ho + y;
                    for (int b = 0; b < k; b++) {
                        const int64_t off = (int64_t)b * g->d, at = L.margin - off / s;
                        if (off % s != ph) continue;
                        w1[nt] = A->grad_logits + (qrow * kk + a * k + b) * rw + at;
                        w2[nt] = A->att + (qrow * kk + a * k + b) * rw + at;
                        b1[nt] = A->q_rows + qrow * c * rw + at;
                        b2[nt] = A->go_rows + qrow * c * rw + at;
                        nt++;
                    }
                }
                if (!nt) continue;
                if (kk > 1) FN(wsum)(dk, pw, w1, b1, rw, nt, c, pw);
                FN(wsum)(dv, pw, w2, b2, rw, nt, c, pw);
                for (int64_t ch = 0; ch < c; ch++) {
                    T *fk = acc_k + ch * w, *fv = acc_v + ch * w;
                    const T *gk = dk + ch * pw, *gv = dv + ch * pw;
                    for (int64_t i = 0; ph + s * i < wp; i++) {
                        const int64_t x = reflect(ph + s * i, pad, w);
                        if (kk > 1) fk[x] += gk[i];
                        fv[x] += gv[i];
                    }
                }
            }
        }
        for (int64_t ch = 0; ch < c; ch++) {
            const int64_t dst = ((bn * c + ch) * g->h + row) * w;
            memcpy(A->grad_k + dst, acc_k + ch * w, w * sizeof(T));
            memcpy(A->grad_v + dst, acc_v + ch * w, w * sizeof(T));
        }
    }
    free(block);
    return 0;
}

void FN(acmix_attention_layout)(const int64_t *shape, int64_t *rw_margin) {
    Geometry g = geometry(shape);
    FN(Layout) L = FN(layout)(&g);
    rw_margin[0] = L.rw;
    rw_margin[1] = L.margin;
}

int FN(acmix_attention_forward)(const T *q, const T *k, const T *v, const T *centre, T *att,
                                T *out, const int64_t *shape, int nthreads) {
    FN(ForwardArgs) A = {geometry(shape), q, k, v, centre, att, out};
    return parallel_for(FN(forward_rows), &A, A.g.n * A.g.ho, nthreads);
}

int FN(acmix_attention_backward)(const T *q, const T *k, const T *v, const T *att,
                                 const T *grad_out, T *q_rows, T *go_rows, T *grad_logits,
                                 T *grad_q, T *grad_centre, T *grad_k, T *grad_v,
                                 const int64_t *shape, int nthreads) {
    FN(BackwardArgs) A = {geometry(shape), q, k, v, att, grad_out, q_rows, go_rows, grad_logits,
                          grad_q, grad_centre, grad_k, grad_v};
    int status = parallel_for(FN(backward_rows), &A, A.g.n * A.g.ho, nthreads);
    if (!status) status = parallel_for(FN(backward_queries), &A, A.g.n * A.g.ho, nthreads);
    if (!status) status = parallel_for(FN(backward_keys), &A, A.g.n * A.g.h, nthreads);
    return status;
}

#undef VSTORE
#undef VLOAD
#undef LANES
#undef VEC
#undef FN
#undef FN2_
#undef FN_
