// PNG decoding and encoding through libpng. libpng reports errors by calling our error function, which records
// the message and longjmps back to the setjmp in the public function that made the call; nothing escapes it.
#include "CImageCodecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *message;
    size_t capacity;
} cic_message_sink;

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} cic_png_source;

static void cic_set_message(char *message, size_t capacity, const char *text) {
    if (message != NULL && capacity > 0) {
        snprintf(message, capacity, "%s", text);
    }
}

static void cic_png_on_error(png_structp png, png_const_charp text) {
    cic_message_sink *sink = (cic_message_sink *)png_get_error_ptr(png);
    if (sink != NULL) {
        cic_set_message(sink->message, sink->capacity, text);
    }
    png_longjmp(png, 1);
}

static void cic_png_on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void cic_png_read_bytes(png_structp png, png_bytep out, size_t length) {
    cic_png_source *source = (cic_png_source *)png_get_io_ptr(png);
    if (length > source->size - source->offset) {
        png_error(png, "unexpected end of data: the file is truncated");
    }
    memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

static int cic_host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

// Lets libpng read any size the format allows so that the caller, not libpng, decides what is too large
// (nothing is allocated from the header alone); benign errors (e.g. a bad ancillary chunk) stay warnings.
static void cic_png_configure_read(png_structp png) {
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_benign_errors(png, 1);
}

static void cic_png_fill_info(png_structp png, png_infop pinfo, cic_png_info *info) {
    memset(info, 0, sizeof(*info));
    info->width = png_get_image_width(png, pinfo);
    info->height = png_get_image_height(png, pinfo);
    info->bit_depth = png_get_bit_depth(png, pinfo);
    info->color_type = png_get_color_type(png, pinfo);
    info->interlaced = png_get_interlace_type(png, pinfo) != PNG_INTERLACE_NONE;
    info->out_bit_depth = info->bit_depth == 16 ? 16 : 8;

    if (info->color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp palette = NULL;
        int num_palette = 0;
        if (png_get_PLTE(png, pinfo, &palette, &num_palette) != 0) {
            info->num_palette = num_palette;
        }
    }
    if (png_get_valid(png, pinfo, PNG_INFO_tRNS) != 0) {
        png_bytep trans_alpha = NULL;
        int num_trans = 0;
        png_color_16p trans_color = NULL;
        png_get_tRNS(png, pinfo, &trans_alpha, &num_trans, &trans_color);
        info->has_trns = 1;
        info->num_trans = num_trans;
        if (trans_color != NULL) {
            if (info->color_type == PNG_COLOR_TYPE_GRAY) {
                info->trns_color[0] = trans_color->gray;
            } else if (info->color_type == PNG_COLOR_TYPE_RGB) {
                info->trns_color[0] = trans_color->red;
                info->trns_color[1] = trans_color->green;
                info->trns_color[2] = trans_color->blue;
            }
        }
    }
    switch (info->color_type) {
    case PNG_COLOR_TYPE_GRAY: info->channels = 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: info->channels = 2; break;
    case PNG_COLOR_TYPE_RGB: info->channels = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: info->channels = 4; break;
    case PNG_COLOR_TYPE_PALETTE: info->channels = info->has_trns ? 4 : 3; break;
    default: info->channels = 0; break;
    }
}

static int cic_png_check_signature(const uint8_t *data, size_t size, char *message, size_t capacity) {
    if (data == NULL || size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        cic_set_message(message, capacity, "not a PNG signature");
        return CIC_ERROR;
    }
    return CIC_OK;
}

// Checks the signature and creates the reader and its info struct (errors reported through `sink`).
// The caller sets its own setjmp point afterwards, since libpng jumps back to the frame that set it.
static int cic_png_open(const uint8_t *data, size_t size, cic_message_sink *sink, png_structp *png, png_infop *pinfo) {
    if (cic_png_check_signature(data, size, sink->message, sink->capacity) != CIC_OK) {
        return CIC_ERROR;
    }
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, sink, cic_png_on_error, cic_png_on_warning);
    if (*png == NULL) {
        cic_set_message(sink->message, sink->capacity, "out of memory creating the PNG reader");
        return CIC_ERROR;
    }
    *pinfo = png_create_info_struct(*png);
    if (*pinfo == NULL) {
        png_destroy_read_struct(png, NULL, NULL);
        cic_set_message(sink->message, sink->capacity, "out of memory creating the PNG reader");
        return CIC_ERROR;
    }
    return CIC_OK;
}

int cic_png_read_info(const uint8_t *data, size_t size, cic_png_info *info, char *message, size_t message_capacity) {
    cic_set_message(message, message_capacity, "");
    cic_message_sink sink = {message, message_capacity};
    cic_png_source source = {data, size, 0};
    png_structp png = NULL;
    png_infop pinfo = NULL;
    if (cic_png_open(data, size, &sink, &png, &pinfo) != CIC_OK) {
        return CIC_ERROR;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return CIC_ERROR;
    }
    png_set_read_fn(png, &source, cic_png_read_bytes);
    cic_png_configure_read(png);
    png_read_info(png, pinfo);
    cic_png_fill_info(png, pinfo, info);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return CIC_OK;
}

int cic_png_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_capacity, cic_png_info *info,
                   char *message, size_t message_capacity) {
    cic_set_message(message, message_capacity, "");
    cic_message_sink sink = {message, message_capacity};
    cic_png_source source = {data, size, 0};
    png_structp png = NULL;
    png_infop pinfo = NULL;
    if (cic_png_open(data, size, &sink, &png, &pinfo) != CIC_OK) {
        return CIC_ERROR;
    }
    // Written after setjmp, read after a longjmp: volatile so that the cleanup sees the current values.
    png_bytep *volatile rows = NULL;
    uint8_t *volatile indices = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(indices);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return CIC_ERROR;
    }
    png_set_read_fn(png, &source, cic_png_read_bytes);
    cic_png_configure_read(png);
    png_read_info(png, pinfo);
    cic_png_fill_info(png, pinfo, info);
    if (info->width == 0 || info->height == 0 || info->channels == 0) {
        png_error(png, "invalid image header");
    }

    const int is_palette = info->color_type == PNG_COLOR_TYPE_PALETTE;
    if (is_palette) {
        png_set_packing(png);  // one palette index per byte, not scaled
    } else if (info->bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);  // scales 1/2/4-bit gray to 0...255 (x255, x85, x17)
    }
    if (info->bit_depth == 16 && cic_host_is_little_endian()) {
        png_set_swap(png);
    }
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);

    const size_t width = info->width;
    const size_t height = info->height;
    const size_t bytes_per_sample = info->out_bit_depth / 8;
    const size_t out_row = width * (size_t)info->channels * bytes_per_sample;
    if (out_row > SIZE_MAX / height || out_capacity != out_row * height) {
        png_error(png, "output buffer size does not match the image");
    }
    const size_t read_row = is_palette ? width : out_row;
    if (png_get_rowbytes(png, pinfo) != read_row) {
        png_error(png, "unexpected decoded row size");
    }

    rows = (png_bytep *)malloc(height * sizeof(png_bytep));
    if (rows == NULL) {
        png_error(png, "out of memory");
    }
    uint8_t *target = out;
    if (is_palette) {
        indices = (uint8_t *)malloc(width * height);
        if (indices == NULL) {
            png_error(png, "out of memory");
        }
        target = indices;
    }
    for (size_t y = 0; y < height; y++) {
        rows[y] = target + y * read_row;
    }
    png_read_image(png, rows);

    if (is_palette) {
        png_colorp palette = NULL;
        int num_palette = 0;
        png_get_PLTE(png, pinfo, &palette, &num_palette);
        png_bytep trans_alpha = NULL;
        int num_trans = 0;
        if (info->has_trns) {
            png_get_tRNS(png, pinfo, &trans_alpha, &num_trans, NULL);
        }
        uint8_t table[256][4];
        for (int i = 0; i < 256; i++) {
            if (palette != NULL && i < num_palette) {
                table[i][0] = palette[i].red;
                table[i][1] = palette[i].green;
                table[i][2] = palette[i].blue;
            } else {
                table[i][0] = table[i][1] = table[i][2] = 0;
            }
            table[i][3] = (trans_alpha != NULL && i < num_trans) ? trans_alpha[i] : 255;
        }
        const size_t channels = (size_t)info->channels;
        const size_t count = width * height;
        for (size_t i = 0; i < count; i++) {
            memcpy(out + i * channels, table[indices[i]], channels);
        }
    }
    free(rows);
    rows = NULL;
    free(indices);
    indices = NULL;
    png_destroy_read_struct(&png, &pinfo, NULL);
    return CIC_OK;
}

typedef struct {
    cic_buffer *buffer;
} cic_png_sink;

static void cic_png_write_bytes(png_structp png, png_bytep bytes, size_t length) {
    cic_png_sink *sink = (cic_png_sink *)png_get_io_ptr(png);
    cic_buffer *buffer = sink->buffer;
    if (length > SIZE_MAX - buffer->size) {
        png_error(png, "PNG output too large");
    }
    if (buffer->size + length > buffer->capacity) {
        size_t capacity = buffer->capacity < 4096 ? 4096 : buffer->capacity;
        while (capacity < buffer->size + length) {
            capacity = capacity > SIZE_MAX / 2 ? SIZE_MAX : capacity * 2;
        }
        uint8_t *grown = (uint8_t *)realloc(buffer->data, capacity);
        if (grown == NULL) {
            png_error(png, "out of memory");
        }
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, bytes, length);
    buffer->size += length;
}

static void cic_png_flush(png_structp png) {
    (void)png;
}

int cic_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int compression_level,
                   cic_buffer *out, char *message, size_t message_capacity) {
    cic_set_message(message, message_capacity, "");
    out->data = NULL;
    out->size = 0;
    out->capacity = 0;
    if (pixels == NULL || width == 0 || height == 0 || width > PNG_UINT_31_MAX || height > PNG_UINT_31_MAX) {
        cic_set_message(message, message_capacity, "width and height must be positive");
        return CIC_ERROR;
    }
    int color_type;
    switch (channels) {
    case 1: color_type = PNG_COLOR_TYPE_GRAY; break;
    case 2: color_type = PNG_COLOR_TYPE_GRAY_ALPHA; break;
    case 3: color_type = PNG_COLOR_TYPE_RGB; break;
    case 4: color_type = PNG_COLOR_TYPE_RGB_ALPHA; break;
    default:
        cic_set_message(message, message_capacity, "channels must be 1, 2, 3 or 4");
        return CIC_ERROR;
    }
    cic_message_sink errors = {message, message_capacity};
    cic_png_sink sink = {out};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, cic_png_on_error, cic_png_on_warning);
    if (png == NULL) {
        cic_set_message(message, message_capacity, "out of memory creating the PNG writer");
        return CIC_ERROR;
    }
    png_infop pinfo = png_create_info_struct(png);
    if (pinfo == NULL) {
        png_destroy_write_struct(&png, NULL);
        cic_set_message(message, message_capacity, "out of memory creating the PNG writer");
        return CIC_ERROR;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &pinfo);
        cic_buffer_free(out);
        return CIC_ERROR;
    }
    png_set_write_fn(png, &sink, cic_png_write_bytes, cic_png_flush);
    png_set_IHDR(png, pinfo, width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (compression_level >= 0 && compression_level <= 9) {
        png_set_compression_level(png, compression_level);
    }
    png_write_info(png, pinfo);
    const size_t stride = (size_t)width * (size_t)channels;
    for (uint32_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &pinfo);
    return CIC_OK;
}

void cic_buffer_free(cic_buffer *buffer) {
    if (buffer == NULL) {
        return;
    }
    free(buffer->data);
    buffer->data = NULL;
    buffer->size = 0;
    buffer->capacity = 0;
}
