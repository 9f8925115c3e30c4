// libjpeg-turbo decoding for backbones (optional: without it, sharp decodes JPEGs).
//
// Why not sharp: sharp hands back every decode in a freshly allocated buffer, and on a
// 12-megapixel photo faulting in those 36 MB of new pages costs more CPU than the JPEG
// decode itself (bench/RESULTS.md §14). Here the caller passes the buffer to decode into
// and keeps it for the next image, so a warm thread decodes at libjpeg-turbo's own cost.
// It also gives DCT scaling by 1/2, 1/4, 1/8 directly (--decode fast).
//
// Settings are libjpeg's defaults, set explicitly because Keras/PIL parity rests on them:
// JDCT_ISLOW (the accurate integer IDCT) and fancy upsampling, which is what Pillow's
// JpegImagePlugin decodes with.
//
// decodeSync(bytes, denom, out[, orientation]) / decodeAsync(...) -> { width, height, buffer }
// (as displayed after the EXIF orientation, 1 = as stored) or, for a
// file libjpeg warns about (truncated, corrupt data), { warning }: the caller then lets
// sharp decide under its failOn rules, so damaged files behave as they always did.
// `out` is an ArrayBuffer (or null); when it is too small a new one is allocated and
// returned in `buffer`, for the caller to keep.
#include <node_api.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef BACKBONES_LCMS
#include <lcms2.h>
#endif

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jmp;
  int warned;
  char message[JMSG_LENGTH_MAX];
} ErrorMgr;

static void on_error(j_common_ptr cinfo) {
  ErrorMgr *err = (ErrorMgr *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jmp, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return; // trace messages
  ErrorMgr *err = (ErrorMgr *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, err->message);
  err->warned = 1;
  longjmp(err->jmp, 1);
}

typedef struct {
  struct jpeg_decompress_struct cinfo;
  ErrorMgr err;
  int started; // jpeg_create_decompress done
  const unsigned char *src;
  size_t srcLen;
  unsigned char *dst;
  size_t dstLen;
  int denom;
  int orientation; // EXIF 1..8: how the decoded rows are laid out in dst (1 = as stored)
  int failed;
  // for the async variant
  napi_ref srcRef, dstRef;
  napi_deferred deferred;
  napi_async_work work;
} Job;

// Reads the header and sets the output geometry; returns 0 or -1 (message in err).
static int job_header(Job *job) {
  struct jpeg_decompress_struct *cinfo = &job->cinfo;
  if (setjmp(job->err.jmp)) return -1;
  jpeg_read_header(cinfo, TRUE);
  if (cinfo->jpeg_color_space != JCS_YCbCr && cinfo->jpeg_color_space != JCS_GRAYSCALE && cinfo->jpeg_color_space != JCS_RGB) {
    snprintf(job->err.message, sizeof job->err.message, "unsupported colour space %d", (int)cinfo->jpeg_color_space);
    job->err.warned = 1; // not ours to decode: sharp converts CMYK/YCCK
    return -1;
  }
  cinfo->out_color_space = JCS_RGB;
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  cinfo->scale_num = 1;
  cinfo->scale_denom = (unsigned int)job->denom;
  jpeg_calc_output_dimensions(cinfo);
  return 0;
}

// Where stored pixel (x, y) of a w x h image goes in the displayed image, for EXIF
// orientation o (the displayed width is h for o >= 5): as libvips' autorotate lays it out
// (tested against sharp for all eight).
static inline size_t oriented_index(int o, size_t x, size_t y, size_t w, size_t h) {
  switch (o) {
    case 2: return y * w + (w - 1 - x);                  // mirrored left-right
    case 3: return (h - 1 - y) * w + (w - 1 - x);        // turned 180
    case 4: return (h - 1 - y) * w + x;                  // mirrored top-bottom
    case 5: return x * h + y;                            // transposed
    case 6: return x * h + (h - 1 - y);                  // turned 90 clockwise
    case 7: return (w - 1 - x) * h + (h - 1 - y);        // transversed
    case 8: return (w - 1 - x) * h + y;                  // turned 90 anticlockwise
    default: return y * w + x;
  }
}

// Decodes every scanline straight into dst (as stored), or, with an EXIF orientation to
// apply, a few rows at a time into a small buffer whose pixels go to their displayed
// places: no second full-size buffer. Returns 0 or -1.
static int job_decode(Job *job) {
  struct jpeg_decompress_struct *cinfo = &job->cinfo;
  unsigned char *volatile band = NULL; // volatile: read after longjmp
  if (setjmp(job->err.jmp)) {
    free(band);
    return -1;
  }
  jpeg_start_decompress(cinfo);
  const size_t w = cinfo->output_width, h = cinfo->output_height, stride = w * 3;
  const int o = job->orientation;
  enum { BAND = 16 };
  JSAMPROW rows[BAND];
  if (o > 1) {
    band = malloc(stride * BAND);
    if (!band) {
      snprintf(job->err.message, sizeof job->err.message, "out of memory");
      jpeg_abort_decompress(cinfo);
      return -1;
    }
  }
  while (cinfo->output_scanline < h) {
    size_t y0 = cinfo->output_scanline;
    unsigned int n = (unsigned int)(h - y0);
    if (n > BAND) n = BAND;
    for (unsigned int i = 0; i < n; i++) rows[i] = band ? band + i * stride : job->dst + (y0 + i) * stride;
    unsigned int got = jpeg_read_scanlines(cinfo, rows, n);
    if (!band) continue;
    // Turned or transposed (5-8), a stored column is a displayed row: go column by column so
    // that each band's pixels land side by side.
    for (size_t a = 0; a < (o >= 5 ? w : got); a++)
      for (size_t b = 0; b < (o >= 5 ? got : w); b++) {
        const size_t x = o >= 5 ? a : b, i = o >= 5 ? b : a;
        unsigned char *d = job->dst + oriented_index(o, x, y0 + i, w, h) * 3, *s = band + i * stride + x * 3;
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
      }
  }
  jpeg_finish_decompress(cinfo);
  free(band);
  return 0;
}

static void job_free(Job *job) {
  if (job->started) jpeg_destroy_decompress(&job->cinfo);
  free(job);
}

#define CHECK(env, call)                                      \
  do {                                                        \
    if ((call) != napi_ok) {                                  \
      napi_throw_error((env), NULL, "jpeg addon: " #call);    \
      return NULL;                                            \
    }                                                         \
  } while (0)

// Parses (bytes, denom, out), reads the header, makes sure `out` fits. On failure returns
// NULL with a JS exception pending, or a Job with failed = 1 (a warning / libjpeg error).
static Job *job_begin(napi_env env, napi_callback_info info, napi_value *dstValue) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "decode(bytes, denom, out[, orientation]) needs three arguments");
    return NULL;
  }
  int32_t orientation = 1;
  if (argc >= 4) napi_get_value_int32(env, argv[3], &orientation);
  if (orientation < 1 || orientation > 8) {
    napi_throw_range_error(env, NULL, "orientation must be an EXIF orientation, 1 to 8");
    return NULL;
  }
  Job *job = calloc(1, sizeof(Job));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    free(job);
    napi_throw_type_error(env, NULL, "bytes must be a Uint8Array");
    return NULL;
  }
  job->src = data;
  job->srcLen = length;
  int32_t denom;
  napi_get_value_int32(env, argv[1], &denom);
  if (denom != 1 && denom != 2 && denom != 4 && denom != 8) {
    free(job);
    napi_throw_range_error(env, NULL, "denom must be 1, 2, 4 or 8");
    return NULL;
  }
  job->denom = denom;
  job->orientation = orientation;

  job->cinfo.err = jpeg_std_error(&job->err.pub);
  job->err.pub.error_exit = on_error;
  job->err.pub.emit_message = on_message;
  jpeg_create_decompress(&job->cinfo);
  job->started = 1;
  jpeg_mem_src(&job->cinfo, job->src, (unsigned long)job->srcLen);
  if (job_header(job) != 0) {
    job->failed = 1;
    return job;
  }
  size_t need = (size_t)job->cinfo.output_width * job->cinfo.output_height * 3;
  napi_valuetype outType;
  napi_typeof(env, argv[2], &outType);
  void *outData = NULL;
  size_t outLen = 0;
  if (outType != napi_null && outType != napi_undefined) {
    bool isAb = false;
    napi_is_arraybuffer(env, argv[2], &isAb);
    if (!isAb) {
      job_free(job);
      napi_throw_type_error(env, NULL, "out must be an ArrayBuffer or null");
      return NULL;
    }
    napi_get_arraybuffer_info(env, argv[2], &outData, &outLen);
  }
  if (outLen >= need && outData) {
    *dstValue = argv[2];
  } else if (napi_create_arraybuffer(env, need, &outData, dstValue) != napi_ok) {
    job_free(job);
    napi_throw_error(env, NULL, "cannot allocate the output buffer");
    return NULL;
  }
  job->dst = outData;
  job->dstLen = need;
  return job;
}

static napi_value job_result(napi_env env, Job *job, napi_value dstValue) {
  napi_value result, v;
  napi_create_object(env, &result);
  if (job->failed) {
    napi_create_string_utf8(env, job->err.message, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, result, job->err.warned ? "warning" : "error", v);
    return result;
  }
  // As displayed: an orientation of 5 to 8 swaps the sides.
  const int swap = job->orientation >= 5;
  napi_create_uint32(env, swap ? job->cinfo.output_height : job->cinfo.output_width, &v);
  napi_set_named_property(env, result, "width", v);
  napi_create_uint32(env, swap ? job->cinfo.output_width : job->cinfo.output_height, &v);
  napi_set_named_property(env, result, "height", v);
  napi_set_named_property(env, result, "buffer", dstValue);
  return result;
}

static napi_value decode_sync(napi_env env, napi_callback_info info) {
  napi_value dstValue = NULL;
  Job *job = job_begin(env, info, &dstValue);
  if (!job) return NULL;
  if (!job->failed && job_decode(job) != 0) job->failed = 1;
  napi_value result = job_result(env, job, dstValue);
  job_free(job);
  return result;
}

static void async_execute(napi_env env, void *data) {
  (void)env;
  Job *job = data;
  if (job_decode(job) != 0) job->failed = 1;
}

static void async_complete(napi_env env, napi_status status, void *data) {
  Job *job = data;
  napi_value dstValue = NULL;
  napi_get_reference_value(env, job->dstRef, &dstValue);
  if (status != napi_ok) {
    job->failed = 1;
    snprintf(job->err.message, sizeof job->err.message, "decode cancelled");
  }
  napi_resolve_deferred(env, job->deferred, job_result(env, job, dstValue));
  napi_delete_reference(env, job->srcRef);
  napi_delete_reference(env, job->dstRef);
  napi_delete_async_work(env, job->work);
  job_free(job);
}

static napi_value decode_async(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_value dstValue = NULL;
  Job *job = job_begin(env, info, &dstValue);
  if (!job) return NULL;
  napi_value promise;
  CHECK(env, napi_create_promise(env, &job->deferred, &promise));
  if (job->failed) {
    napi_resolve_deferred(env, job->deferred, job_result(env, job, dstValue));
    job_free(job);
    return promise;
  }
  // Keep the input bytes and the output buffer alive while another thread uses them.
  CHECK(env, napi_create_reference(env, argv[0], 1, &job->srcRef));
  CHECK(env, napi_create_reference(env, dstValue, 1, &job->dstRef));
  napi_value name;
  napi_create_string_utf8(env, "backbones.jpeg", NAPI_AUTO_LENGTH, &name);
  CHECK(env, napi_create_async_work(env, NULL, name, async_execute, async_complete, job, &job->work));
  CHECK(env, napi_queue_async_work(env, job->work));
  return promise;
}

// glibc's allocator, for long-running processes (serve). Its defaults keep what a burst
// of big images freed: one arena per thread that allocates (up to 8 per core, each
// growing to 64 MB) and a threshold for returning big blocks that rises with every big
// block freed. tuneMalloc(arenaMax, mmapThreshold, trimThreshold) fixes them (arenas made
// after the call obey); trim() hands free pages of every arena back (malloc_trim).
static napi_value tune_malloc(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int ok = 0;
#ifdef __GLIBC__
  int32_t arenas = 0, mmapThreshold = 0, trimThreshold = 0;
  if (argc == 3 && napi_get_value_int32(env, argv[0], &arenas) == napi_ok && napi_get_value_int32(env, argv[1], &mmapThreshold) == napi_ok &&
      napi_get_value_int32(env, argv[2], &trimThreshold) == napi_ok) {
    // 0 leaves a setting as it is.
    ok = (arenas == 0 || mallopt(M_ARENA_MAX, arenas) == 1) && (mmapThreshold == 0 || mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1) &&
         (trimThreshold == 0 || mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1);
  }
#endif
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
#ifdef __GLIBC__
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
#else
  napi_get_boolean(env, 0, &result);
#endif
  return result;
}

#ifdef BACKBONES_LCMS
// iccSrgbError(profileBytes) -> the largest difference, in 8-bit levels, between an RGB code
// and what converting it from this profile to sRGB gives (float, unoptimised, perceptual
// intent as sharp asks libvips for), over a 33^3 grid of codes plus every code of the grey
// and single-channel ramps; -1 when the profile is not an RGB profile lcms can convert from.
// Below 0.5 the exact conversion leaves every sampled code where it is: the profile is sRGB
// for 8-bit pixels, and decoding without converting is that conversion (the caller allows a
// little more for profiles that round sRGB's colorants: src/images/jpeg-turbo.ts).
static napi_value icc_srgb_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  size_t length = 0;
  double worst = -1;
  if (argc == 1 && napi_get_typedarray_info(env, argv[0], NULL, &length, &data, NULL, NULL) == napi_ok && length > 128) {
    cmsHPROFILE in = cmsOpenProfileFromMem(data, (cmsUInt32Number)length);
    cmsHPROFILE srgb = cmsCreate_sRGBProfile();
    cmsHTRANSFORM t = NULL;
    if (in && srgb && cmsGetColorSpace(in) == cmsSigRgbData)
      t = cmsCreateTransform(in, TYPE_RGB_FLT, srgb, TYPE_RGB_FLT, INTENT_PERCEPTUAL, cmsFLAGS_NOCACHE | cmsFLAGS_NOOPTIMIZE);
    if (t) {
      enum { G = 33, RAMPS = 4 * 256, N = G * G * G + RAMPS };
      float *px = malloc(sizeof(float) * 3 * N * 2);
      if (px) {
        float *out = px + 3 * N;
        size_t k = 0;
        for (int r = 0; r < G; r++)
          for (int g = 0; g < G; g++)
            for (int b = 0; b < G; b++) {
              px[k++] = (float)((r * 255 + 16) / 32) / 255.0f;
              px[k++] = (float)((g * 255 + 16) / 32) / 255.0f;
              px[k++] = (float)((b * 255 + 16) / 32) / 255.0f;
            }
        for (int v = 0; v < 256; v++) {
          float f = (float)v / 255.0f;
          float ramps[4][3] = {{f, f, f}, {f, 0, 0}, {0, f, 0}, {0, 0, f}};
          for (int i = 0; i < 4; i++) {
            px[k++] = ramps[i][0];
            px[k++] = ramps[i][1];
            px[k++] = ramps[i][2];
          }
        }
        cmsDoTransform(t, px, out, N);
        worst = 0;
        for (size_t i = 0; i < (size_t)3 * N; i++) {
          double d = (out[i] - px[i]) * 255.0;
          if (d < 0) d = -d;
          if (!(d <= worst)) worst = d; // NaN too
        }
        free(px);
      }
      cmsDeleteTransform(t);
    }
    if (srgb) cmsCloseProfile(srgb);
    if (in) cmsCloseProfile(in);
  }
  napi_create_double(env, worst, &result);
  return result;
}
#endif

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, v;
  napi_create_function(env, "tuneMalloc", NAPI_AUTO_LENGTH, tune_malloc, NULL, &fn);
  napi_set_named_property(env, exports, "tuneMalloc", fn);
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn);
  napi_set_named_property(env, exports, "trim", fn);
  napi_create_function(env, "decodeSync", NAPI_AUTO_LENGTH, decode_sync, NULL, &fn);
  napi_set_named_property(env, exports, "decodeSync", fn);
  napi_create_function(env, "decodeAsync", NAPI_AUTO_LENGTH, decode_async, NULL, &fn);
  napi_set_named_property(env, exports, "decodeAsync", fn);
#ifdef BACKBONES_LCMS
  napi_create_function(env, "iccSrgbError", NAPI_AUTO_LENGTH, icc_srgb_error, NULL, &fn);
  napi_set_named_property(env, exports, "iccSrgbError", fn);
#endif
  // decode*(bytes, denom, out, orientation) lays the pixels out as EXIF orientation says.
  napi_get_boolean(env, 1, &v);
  napi_set_named_property(env, exports, "orients", v);
  // The library actually linked (Debian: 62 = the libjpeg 6b ABI of libjpeg-turbo).
  napi_create_int32(env, JPEG_LIB_VERSION, &v);
  napi_set_named_property(env, exports, "jpegLibVersion", v);
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
  napi_create_int32(env, LIBJPEG_TURBO_VERSION_NUMBER, &v);
  napi_set_named_property(env, exports, "turboVersion", v);
#endif
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
