#include "cdc_inflate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

void cdc_inflate_free(uint8_t *buffer) { free(buffer); }

int cdc_inflate_raw(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
                    char *msg, size_t msg_cap) {
    *out = NULL;
    *out_len = 0;
    if (msg_cap > 0) msg[0] = 0;
    z_stream zs = {0};
    // Negative window bits: a raw stream, no zlib header or checksum.
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        snprintf(msg, msg_cap, "zlib could not start: %s", zs.msg ? zs.msg : "out of memory");
        return CDC_ERROR;
    }
    // Room for one byte past the cap, so that a stream of exactly max_out bytes is told apart from a
    // longer one.
    size_t hard_cap = max_out < SIZE_MAX ? max_out + 1 : max_out;
    size_t cap = in_len < SIZE_MAX / 4 ? in_len * 4 : SIZE_MAX;
    if (cap < 65536) cap = 65536;
    if (cap > hard_cap) cap = hard_cap;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) {
        inflateEnd(&zs);
        snprintf(msg, msg_cap, "out of memory");
        return CDC_ERROR;
    }
    size_t produced = 0, consumed = 0;
    int result = CDC_OK;
    for (;;) {
        if (produced == cap) {
            if (cap == hard_cap) { result = CDC_INFLATE_TOO_LARGE; break; }
            size_t next = cap <= hard_cap / 2 ? cap * 2 : hard_cap;
            uint8_t *grown = realloc(buf, next);
            if (!grown) { snprintf(msg, msg_cap, "out of memory"); result = CDC_ERROR; break; }
            buf = grown;
            cap = next;
        }
        // zlib counts in 32-bit units; feed and drain at most 1 GiB per call.
        size_t in_chunk = in_len - consumed < (1u << 30) ? in_len - consumed : (1u << 30);
        size_t out_chunk = cap - produced < (1u << 30) ? cap - produced : (1u << 30);
        zs.next_in = (Bytef *)(in + consumed);
        zs.avail_in = (uInt)in_chunk;
        zs.next_out = buf + produced;
        zs.avail_out = (uInt)out_chunk;
        int rc = inflate(&zs, Z_NO_FLUSH);
        consumed += in_chunk - zs.avail_in;
        produced += out_chunk - zs.avail_out;
        if (produced > max_out) { result = CDC_INFLATE_TOO_LARGE; break; }
        if (rc == Z_STREAM_END) break;
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && zs.avail_out != 0) {
            // No progress with room left: the input is used up before the final block.
            if (consumed == in_len) { result = CDC_INFLATE_TRUNCATED; break; }
            continue;
        }
        if (rc == Z_BUF_ERROR) continue;  // output full: grow and go on
        snprintf(msg, msg_cap, "%s", zs.msg ? zs.msg : (rc == Z_MEM_ERROR ? "out of memory" : "corrupt stream"));
        result = CDC_ERROR;
        break;
    }
    inflateEnd(&zs);
    if (result != CDC_OK) {
        free(buf);
        return result;
    }
    *out = buf;
    *out_len = produced;
    return CDC_OK;
}
