/* Strings for the project-wide error codes of util/err.h. */
#include "util/err.h"

const char *vs_strerror(int err)
{
    switch (err) {
#define VS_ERR_CASE_(name, value, text)                                     \
    case value:                                                             \
        return text;
        VS_ERRORS(VS_ERR_CASE_)
#undef VS_ERR_CASE_
    default:
        return "unknown error";
    }
}
