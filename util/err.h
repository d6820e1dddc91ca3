/*
 * Project-wide error codes.  Every public function of vmmcsim that can fail
 * returns one of these: 0 is success, errors are negative.  The list is an
 * X-macro so the enum and the strings of vs_strerror() cannot drift apart.
 * This header sits below every layer and includes nothing of the project.
 */
#ifndef VS_ERR_H
#define VS_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define VS_ERRORS(X)                                                        \
    X(VS_OK, 0, "success")                                                  \
    X(VS_EINVAL, -1, "invalid argument")                                    \
    X(VS_ENOMEM, -2, "out of memory")                                       \
    X(VS_ENOENT, -3, "no such export")                                      \
    X(VS_EPERM, -4, "permission denied")                                    \
    X(VS_ERANGE, -5, "outside the bounds of the buffer")                    \
    X(VS_EAGAIN, -6, "resource temporarily unavailable")                    \
    X(VS_EBUSY, -7, "resource busy")                                        \
    X(VS_ENOSRAM, -8, "NIC SRAM exhausted")                                 \
    X(VS_EBADF, -9, "bad handle")                                           \
    X(VS_EIO, -10, "input/output error")                                    \
    X(VS_ECONFIG, -11, "bad configuration")                                 \
    X(VS_EDEADLK, -12, "simulation deadlock")                               \
    X(VS_ETIMEDOUT, -13, "operation timed out")                             \
    X(VS_EEXIST, -14, "already exists")                                     \
    X(VS_ENOTSUP, -15, "operation not supported")                           \
    X(VS_EUNREACH, -16, "peer unreachable")                                 \
    X(VS_EFAULT, -17, "address not mapped for the NIC")                     \
    X(VS_ENOSPC, -18, "table full")

enum vs_err {
#define VS_ERR_ENUM_(name, value, text) name = value,
    VS_ERRORS(VS_ERR_ENUM_)
#undef VS_ERR_ENUM_
};

/* Returns a static, human readable string for an error code (or for an
 * unknown code, a string saying so).  Never returns NULL. */
const char *vs_strerror(int err);

/* Writes a call's failure into buf (len bytes): the message fmt makes,
 * then " (" vs_strerror(err) ")" if it fits; the libraries' *_errmsg()
 * texts are made this way. */
void vs_errmsg_vset(char *buf, size_t len, int err, const char *fmt,
                    va_list ap) __attribute__((format(printf, 4, 0)));

#endif
