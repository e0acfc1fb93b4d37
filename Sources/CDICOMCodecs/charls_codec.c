#include "charls_codec.h"

#include <stdio.h>
#include <string.h>
#include <charls/charls.h>

static void set_error(char *error, size_t error_size, const char *what, charls_jpegls_errc code) {
    if (error && error_size) {
        snprintf(error, error_size, "%s: %s (CharLS error %d)", what, charls_get_error_message(code), (int)code);
    }
}

// Creates a decoder over `src` and reads its header; on failure the decoder is destroyed and NULL returned.
static charls_jpegls_decoder *open_decoder(const uint8_t *src, size_t src_size, char *error, size_t error_size) {
    charls_jpegls_decoder *decoder = charls_jpegls_decoder_create();
    if (!decoder) {
        if (error && error_size) snprintf(error, error_size, "cannot create a CharLS decoder");
        return NULL;
    }
    charls_jpegls_errc code = charls_jpegls_decoder_set_source_buffer(decoder, src, src_size);
    if (code != CHARLS_JPEGLS_ERRC_SUCCESS) {
        set_error(error, error_size, "source buffer", code);
        charls_jpegls_decoder_destroy(decoder);
        return NULL;
    }
    code = charls_jpegls_decoder_read_header(decoder);
    if (code != CHARLS_JPEGLS_ERRC_SUCCESS) {
        set_error(error, error_size, "header", code);
        charls_jpegls_decoder_destroy(decoder);
        return NULL;
    }
    return decoder;
}

int cdc_jls_read_header(const uint8_t *src, size_t src_size, cdc_jls_info *info, char *error, size_t error_size) {
    memset(info, 0, sizeof *info);
    charls_jpegls_decoder *decoder = open_decoder(src, src_size, error, error_size);
    if (!decoder) return CDC_ERROR;
    charls_frame_info frame;
    charls_jpegls_errc code = charls_jpegls_decoder_get_frame_info(decoder, &frame);
    if (code == CHARLS_JPEGLS_ERRC_SUCCESS) {
        info->width = frame.width;
        info->height = frame.height;
        info->bits_per_sample = frame.bits_per_sample;
        info->component_count = frame.component_count;
        charls_interleave_mode mode = CHARLS_INTERLEAVE_MODE_NONE;
        code = charls_jpegls_decoder_get_interleave_mode(decoder, &mode);
        info->interleave_mode = (int32_t)mode;
    }
    if (code == CHARLS_JPEGLS_ERRC_SUCCESS) {
        int32_t near = 0;
        code = charls_jpegls_decoder_get_near_lossless(decoder, 0, &near);
        info->near_lossless = near;
    }
    charls_jpegls_decoder_destroy(decoder);
    if (code != CHARLS_JPEGLS_ERRC_SUCCESS) {
        set_error(error, error_size, "frame info", code);
        return CDC_ERROR;
    }
    return CDC_OK;
}

int cdc_jls_decode(const uint8_t *src, size_t src_size, void *dst, size_t dst_size, char *error, size_t error_size) {
    charls_jpegls_decoder *decoder = open_decoder(src, src_size, error, error_size);
    if (!decoder) return CDC_ERROR;
    size_t needed = 0;
    charls_jpegls_errc code = charls_jpegls_decoder_get_destination_size(decoder, 0, &needed);
    if (code != CHARLS_JPEGLS_ERRC_SUCCESS) {
        set_error(error, error_size, "destination size", code);
        charls_jpegls_decoder_destroy(decoder);
        return CDC_ERROR;
    }
    if (needed != dst_size) {
        if (error && error_size)
            snprintf(error, error_size, "decoded size %zu bytes differs from the %zu expected", needed, dst_size);
        charls_jpegls_decoder_destroy(decoder);
        return CDC_ERROR;
    }
    code = charls_jpegls_decoder_decode_to_buffer(decoder, dst, dst_size, 0);
    charls_jpegls_decoder_destroy(decoder);
    if (code != CHARLS_JPEGLS_ERRC_SUCCESS) {
        set_error(error, error_size, "decode", code);
        return CDC_ERROR;
    }
    return CDC_OK;
}
