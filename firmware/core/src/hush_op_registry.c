/* The engine's operator registry: every operator it runs, one registration each (see
 * hush_engine_private.h). The one list of the supported operator set: the host tools' list
 * (hushkit.quantize.opset) is tested equal to it through hush_engine_op_name(). */
#include <stddef.h>

#include "hush_engine_private.h"

extern const hush_op_registration hush_op_fully_connected;
extern const hush_op_registration hush_op_logistic;
extern const hush_op_registration hush_op_tanh;
extern const hush_op_registration hush_op_add;
extern const hush_op_registration hush_op_sub;
extern const hush_op_registration hush_op_mul;
extern const hush_op_registration hush_op_reshape;
extern const hush_op_registration hush_op_quantize;
extern const hush_op_registration hush_op_concatenation;

const hush_op_registration *const hush_op_registry[] = {
    &hush_op_fully_connected, /* hush_op_fc.c */
    &hush_op_logistic,        /* hush_op_elementwise.c */
    &hush_op_tanh,
    &hush_op_add,
    &hush_op_sub,
    &hush_op_mul,
    &hush_op_quantize,
    &hush_op_reshape, /* hush_op_shape.c */
    &hush_op_concatenation,
};

const int hush_op_registry_size = (int)(sizeof hush_op_registry / sizeof hush_op_registry[0]);

const hush_op_registration *hush_op_find(int32_t code)
{
    for (int i = 0; i < hush_op_registry_size; ++i) {
        if (hush_op_registry[i]->code == code) {
            return hush_op_registry[i];
        }
    }
    return NULL;
}

int hush_engine_op_count(void)
{
    return hush_op_registry_size;
}

int32_t hush_engine_op_code(int i)
{
    return i >= 0 && i < hush_op_registry_size ? hush_op_registry[i]->code : -1;
}

const char *hush_engine_op_name(int i)
{
    return i >= 0 && i < hush_op_registry_size ? hush_op_registry[i]->name : NULL;
}
