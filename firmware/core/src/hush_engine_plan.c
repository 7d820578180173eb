/* The engine's arena planner: tensor lifetimes, views sharing their input's bytes, and the
 * first-fit placement of every activation (see hush_engine.h for the arena's layout). */
#include "hush_engine_private.h"

void eng_plan_touch(eng_tensor *t, int16_t op)
{
    if (t->is_const) {
        return;
    }
    if (t->first < 0 || op < t->first) {
        t->first = op;
    }
    if (op > t->last) {
        t->last = op;
    }
}

/* Lifetime-based placement: largest tensors first, each at the lowest offset that does not
 * collide with an already placed tensor alive at the same time. Returns the area's size. */
size_t eng_plan_activations(hush_engine *e)
{
    int16_t order[HUSH_ENGINE_MAX_TENSORS];
    int32_t n = 0;
    for (int32_t i = 0; i < e->n_tensors; ++i) {
        if (e->tensors[i].first >= 0) {
            int32_t k = n++;
            while (k > 0 && e->tensors[order[k - 1]].bytes < e->tensors[i].bytes) {
                order[k] = order[k - 1];
                --k;
            }
            order[k] = (int16_t)i;
        }
    }
    size_t high = 0;
    for (int32_t a = 0; a < n; ++a) {
        eng_tensor *t = &e->tensors[order[a]];
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int32_t b = 0; b < a; ++b) {
                const eng_tensor *p = &e->tensors[order[b]];
                const int live = t->first <= p->last && p->first <= t->last;
                const int overlap =
                    off < p->offset + (size_t)p->bytes && p->offset < off + (size_t)t->bytes;
                if (live && overlap) {
                    off = eng_align_up(p->offset + (size_t)p->bytes);
                    moved = 1;
                }
            }
        }
        t->offset = off;
        if (off + (size_t)t->bytes > high) {
            high = off + (size_t)t->bytes;
        }
    }
    return eng_align_up(high);
}

static int is_graph_io(const hush_engine *e, int16_t t)
{
    for (int32_t k = 0; k < e->n_inputs; ++k) {
        if (e->inputs[k] == t) {
            return 1;
        }
    }
    for (int32_t k = 0; k < e->n_outputs; ++k) {
        if (e->outputs[k] == t) {
            return 1;
        }
    }
    return 0;
}

/* A view only renames bytes: its output shares the input's storage, whose lifetime grows to
 * cover both, so the op costs nothing at invoke. Chains of views end on one tensor. Graph
 * inputs and outputs keep storage of their own (the caller owns their contents). */
void eng_plan_alias_views(hush_engine *e)
{
    for (int32_t i = 0; i < e->n_ops; ++i) {
        const eng_op *op = &e->ops[i];
        if (!(op->reg->flags & HUSH_OP_VIEW) || e->tensors[op->in[0]].is_const ||
            is_graph_io(e, op->in[0]) || is_graph_io(e, op->out)) {
            continue;
        }
        int16_t root = op->in[0];
        while (e->tensors[root].alias >= 0) {
            root = e->tensors[root].alias;
        }
        eng_tensor *r = &e->tensors[root];
        eng_tensor *out = &e->tensors[op->out];
        r->first = out->first < r->first ? out->first : r->first;
        r->last = out->last > r->last ? out->last : r->last;
        out->alias = root;
        out->first = -1; /* not planned on its own */
    }
}
