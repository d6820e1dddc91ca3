/*
 * Reduction kernels of libs/msg: one element-wise loop per datatype, used
 * by msg_reduce and msg_allreduce (coll.c).  Integer sums and products
 * wrap (computed in unsigned arithmetic: signed overflow would be
 * undefined behaviour); logical operators give 0 or 1.  Elements are
 * loaded and stored with memcpy because user buffers need not be aligned
 * for their type.
 */
#include <string.h>

#include "libs/msg/msg_int.h"

size_t msg_dtype_size(enum msg_dtype t)
{
    switch (t) {
    case MSG_INT8:
    case MSG_UINT8:
        return 1;
    case MSG_INT16:
    case MSG_UINT16:
        return 2;
    case MSG_INT32:
    case MSG_UINT32:
    case MSG_FLOAT:
        return 4;
    case MSG_INT64:
    case MSG_UINT64:
    case MSG_DOUBLE:
        return 8;
    default:
        return 0;
    }
}

int msg__check_op(enum msg_dtype t, enum msg_op op)
{
    if ((unsigned)t >= MSG_NDTYPES || (unsigned)op >= MSG_NOPS)
        return VS_EINVAL;
    if ((t == MSG_FLOAT || t == MSG_DOUBLE) && op > MSG_MIN)
        return VS_EINVAL;
    return VS_OK;
}

/* T: the type; U: an unsigned type at least as wide as int and as T, for
 * wrapping arithmetic. */
#define INT_KERNEL(NAME, T, U)                                                 \
    static void NAME(unsigned char *io, const unsigned char *a, size_t n,      \
                     enum msg_op op, int a_first)                              \
    {                                                                          \
        for (size_t i = 0; i < n; i++) {                                       \
            T p, q, v = 0;                                                     \
            memcpy(a_first ? &p : &q, a + i * sizeof(T), sizeof(T));           \
            memcpy(a_first ? &q : &p, io + i * sizeof(T), sizeof(T));          \
            switch (op) {                                                      \
            case MSG_SUM:                                                      \
                v = (T)((U)p + (U)q);                                          \
                break;                                                         \
            case MSG_PROD:                                                     \
                v = (T)((U)p * (U)q);                                          \
                break;                                                         \
            case MSG_MAX:                                                      \
                v = p > q ? p : q;                                             \
                break;                                                         \
            case MSG_MIN:                                                      \
                v = p < q ? p : q;                                             \
                break;                                                         \
            case MSG_LAND:                                                     \
                v = (T)(p && q);                                               \
                break;                                                         \
            case MSG_LOR:                                                      \
                v = (T)(p || q);                                               \
                break;                                                         \
            case MSG_LXOR:                                                     \
                v = (T)(!p != !q);                                             \
                break;                                                         \
            case MSG_BAND:                                                     \
                v = (T)(p & q);                                                \
                break;                                                         \
            case MSG_BOR:                                                      \
                v = (T)(p | q);                                                \
                break;                                                         \
            default:                                                           \
                v = (T)(p ^ q);                                                \
                break;                                                         \
            }                                                                  \
            memcpy(io + i * sizeof(T), &v, sizeof(T));                         \
        }                                                                      \
    }

#define FLOAT_KERNEL(NAME, T)                                                  \
    static void NAME(unsigned char *io, const unsigned char *a, size_t n,      \
                     enum msg_op op, int a_first)                              \
    {                                                                          \
        for (size_t i = 0; i < n; i++) {                                       \
            T p, q, v;                                                         \
            memcpy(a_first ? &p : &q, a + i * sizeof(T), sizeof(T));           \
            memcpy(a_first ? &q : &p, io + i * sizeof(T), sizeof(T));          \
            switch (op) {                                                      \
            case MSG_SUM:                                                      \
                v = p + q;                                                     \
                break;                                                         \
            case MSG_PROD:                                                     \
                v = p * q;                                                     \
                break;                                                         \
            case MSG_MAX:                                                      \
                v = p > q ? p : q;                                             \
                break;                                                         \
            default:                                                           \
                v = p < q ? p : q;                                             \
                break;                                                         \
            }                                                                  \
            memcpy(io + i * sizeof(T), &v, sizeof(T));                         \
        }                                                                      \
    }

INT_KERNEL(red_i8, int8_t, uint32_t)
INT_KERNEL(red_u8, uint8_t, uint32_t)
INT_KERNEL(red_i16, int16_t, uint32_t)
INT_KERNEL(red_u16, uint16_t, uint32_t)
INT_KERNEL(red_i32, int32_t, uint32_t)
INT_KERNEL(red_u32, uint32_t, uint32_t)
INT_KERNEL(red_i64, int64_t, uint64_t)
INT_KERNEL(red_u64, uint64_t, uint64_t)
FLOAT_KERNEL(red_f32, float)
FLOAT_KERNEL(red_f64, double)

typedef void (*kernel_fn)(unsigned char *io, const unsigned char *a, size_t n,
                          enum msg_op op, int a_first);

static const kernel_fn kernels[MSG_NDTYPES] = {
    [MSG_INT8] = red_i8,    [MSG_UINT8] = red_u8,   [MSG_INT16] = red_i16,
    [MSG_UINT16] = red_u16, [MSG_INT32] = red_i32,  [MSG_UINT32] = red_u32,
    [MSG_INT64] = red_i64,  [MSG_UINT64] = red_u64, [MSG_FLOAT] = red_f32,
    [MSG_DOUBLE] = red_f64,
};

void msg__reduce(void *inout, const void *a, size_t count, enum msg_dtype t,
                 enum msg_op op, int a_first)
{
    kernels[t](inout, a, count, op, a_first);
}
