// Raw DEFLATE (RFC 1951) decompression through zlib, for the deflated explicit VR little endian transfer
// syntax. The output is capped: a decompression bomb stops at the cap instead of exhausting memory.
#ifndef CDC_INFLATE_H
#define CDC_INFLATE_H

#include "cdc_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The stream ended before its final block.
#define CDC_INFLATE_TRUNCATED 2
/// The output would exceed `max_out` bytes.
#define CDC_INFLATE_TOO_LARGE 3

/// Inflates `in` (no zlib or gzip header; bytes after the final block are ignored) into a buffer of at
/// most `max_out` bytes that the shim allocates and grows. On CDC_OK `*out` (free with cdc_inflate_free)
/// holds `*out_len` bytes; on any other result `*out` is NULL, and on CDC_ERROR `msg` says why.
int cdc_inflate_raw(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
                    char *msg, size_t msg_cap);

/// Frees a buffer returned by cdc_inflate_raw.
void cdc_inflate_free(uint8_t *buffer);

#ifdef __cplusplus
}
#endif

#endif
