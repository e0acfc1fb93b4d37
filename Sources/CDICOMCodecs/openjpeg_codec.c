#include "openjpeg_codec.h"

#include <stdio.h>
#include <string.h>
#include <openjpeg.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
} memory_source;

typedef struct {
    char *text;
    size_t size;
} message_sink;

static OPJ_SIZE_T read_memory(void *buffer, OPJ_SIZE_T count, void *user) {
    memory_source *m = user;
    if (m->position >= m->size) return (OPJ_SIZE_T)-1;
    size_t n = m->size - m->position < count ? m->size - m->position : count;
    memcpy(buffer, m->data + m->position, n);
    m->position += n;
    return n;
}

static OPJ_OFF_T skip_memory(OPJ_OFF_T count, void *user) {
    memory_source *m = user;
    if (count < 0) {
        if ((size_t)(-count) > m->position) return -1;
        m->position -= (size_t)(-count);
        return count;
    }
    size_t left = m->size - m->position;
    size_t n = (size_t)count < left ? (size_t)count : left;
    m->position += n;
    return (OPJ_OFF_T)n;
}

static OPJ_BOOL seek_memory(OPJ_OFF_T position, void *user) {
    memory_source *m = user;
    if (position < 0 || (size_t)position > m->size) return OPJ_FALSE;
    m->position = (size_t)position;
    return OPJ_TRUE;
}

// Keeps the first error (or, failing that, warning) message; OpenJPEG's lines end with a newline.
static void keep_message(const char *message, void *user) {
    message_sink *sink = user;
    if (!sink->text || !sink->size || sink->text[0]) return;
    snprintf(sink->text, sink->size, "%s", message);
    size_t n = strlen(sink->text);
    while (n && (sink->text[n - 1] == '\n' || sink->text[n - 1] == ' ')) sink->text[--n] = 0;
}

static void ignore_message(const char *message, void *user) {
    (void)message;
    (void)user;
}

typedef struct {
    memory_source source;
    message_sink sink;
    opj_stream_t *stream;
    opj_codec_t *codec;
    opj_image_t *image;
} session;

static void close_session(session *s) {
    if (s->image) opj_image_destroy(s->image);
    if (s->codec) opj_destroy_codec(s->codec);
    if (s->stream) opj_stream_destroy(s->stream);
}

static void fail(session *s, const char *what) {
    if (!s->sink.text || !s->sink.size) return;
    if (s->sink.text[0]) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", s->sink.text);
        snprintf(s->sink.text, s->sink.size, "%s: %s", what, detail);
    } else {
        snprintf(s->sink.text, s->sink.size, "%s", what);
    }
}

static int open_session(session *s, const uint8_t *src, size_t src_size, char *error, size_t error_size) {
    memset(s, 0, sizeof *s);
    s->source.data = src;
    s->source.size = src_size;
    s->sink.text = error;
    s->sink.size = error_size;
    if (error && error_size) error[0] = 0;
    static const uint8_t jp2_signature[] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};
    static const uint8_t j2k_signature[] = {0xFF, 0x4F, 0xFF, 0x51};
    OPJ_CODEC_FORMAT format;
    if (src_size >= sizeof jp2_signature && memcmp(src, jp2_signature, sizeof jp2_signature) == 0) {
        format = OPJ_CODEC_JP2;
    } else if (src_size >= sizeof j2k_signature && memcmp(src, j2k_signature, sizeof j2k_signature) == 0) {
        format = OPJ_CODEC_J2K;
    } else {
        fail(s, "neither a JPEG 2000 codestream (FF4F FF51) nor a JP2 file");
        return CDC_ERROR;
    }
    s->stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    s->codec = opj_create_decompress(format);
    if (!s->stream || !s->codec) {
        fail(s, "cannot create an OpenJPEG decoder");
        return CDC_ERROR;
    }
    opj_stream_set_user_data(s->stream, &s->source, NULL);
    opj_stream_set_user_data_length(s->stream, src_size);
    opj_stream_set_read_function(s->stream, read_memory);
    opj_stream_set_skip_function(s->stream, skip_memory);
    opj_stream_set_seek_function(s->stream, seek_memory);
    opj_set_error_handler(s->codec, keep_message, &s->sink);
    opj_set_warning_handler(s->codec, ignore_message, NULL);
    opj_set_info_handler(s->codec, ignore_message, NULL);
    opj_dparameters_t parameters;
    opj_set_default_decoder_parameters(&parameters);
    if (!opj_setup_decoder(s->codec, &parameters)) {
        fail(s, "decoder setup");
        return CDC_ERROR;
    }
    if (!opj_read_header(s->stream, s->codec, &s->image) || !s->image) {
        fail(s, "header");
        return CDC_ERROR;
    }
    return CDC_OK;
}

static void describe(const opj_image_t *image, int is_jp2, cdc_j2k_info *info) {
    memset(info, 0, sizeof *info);
    info->width = image->x1 - image->x0;
    info->height = image->y1 - image->y0;
    info->components = (int32_t)image->numcomps;
    info->is_jp2 = is_jp2;
    if (image->numcomps == 0 || !image->comps) return;
    const opj_image_comp_t *c0 = &image->comps[0];
    info->precision = (int32_t)c0->prec;
    info->is_signed = (int32_t)c0->sgnd;
    int uniform = 1;
    for (OPJ_UINT32 i = 0; i < image->numcomps; i++) {
        const opj_image_comp_t *c = &image->comps[i];
        if (c->dx != 1 || c->dy != 1 || c->prec != c0->prec || c->sgnd != c0->sgnd) uniform = 0;
    }
    info->uniform = uniform;
}

int cdc_j2k_read_header(const uint8_t *src, size_t src_size, cdc_j2k_info *info, char *error, size_t error_size) {
    session s;
    memset(info, 0, sizeof *info);
    int status = open_session(&s, src, src_size, error, error_size);
    if (status == CDC_OK) describe(s.image, src_size > 4 && src[0] == 0, info);
    close_session(&s);
    return status;
}

int cdc_j2k_decode(const uint8_t *src, size_t src_size, int32_t *dst, size_t dst_count, char *error, size_t error_size) {
    session s;
    if (open_session(&s, src, src_size, error, error_size) != CDC_OK) {
        close_session(&s);
        return CDC_ERROR;
    }
    if (!opj_decode(s.codec, s.stream, s.image) || !opj_end_decompress(s.codec, s.stream)) {
        fail(&s, "decode");
        close_session(&s);
        return CDC_ERROR;
    }
    cdc_j2k_info info;
    describe(s.image, 0, &info);
    size_t pixels = (size_t)info.width * info.height;
    size_t components = (size_t)info.components;
    if (!info.uniform || pixels * components != dst_count) {
        fail(&s, "decoded image does not match the header's uniform size");
        close_session(&s);
        return CDC_ERROR;
    }
    for (size_t c = 0; c < components; c++) {
        const opj_image_comp_t *comp = &s.image->comps[c];
        if (!comp->data || (size_t)comp->w * comp->h != pixels) {
            fail(&s, "decoded component has no data or a different size");
            close_session(&s);
            return CDC_ERROR;
        }
        const OPJ_INT32 *data = comp->data;
        for (size_t i = 0; i < pixels; i++) dst[i * components + c] = data[i];
    }
    close_session(&s);
    return CDC_OK;
}
