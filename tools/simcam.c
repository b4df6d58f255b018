/*
 * vigil-simcam: a simulated IP camera, a real RTSP peer for tests and demos.
 *
 * One GStreamer RTSP server with one mount. The picture is a live test
 * pattern with the wall-clock time (UTC, milliseconds) and a label burnt in,
 * so that a recording can be checked against the time it was taken; the
 * sound is a live sine tone. Video is H.264 (x264enc) or H.265 (x265enc),
 * audio AAC (first of fdkaacenc, voaacenc, avenc_aac), G.711 A-law or
 * mu-law, or none. By default the media is shared: N clients cost one
 * encode, which matters on a small test machine.
 *
 * When it listens it prints one line, "simcam ready rtsp://HOST:PORT/PATH",
 * and flushes it. SIGTERM and SIGINT stop it with exit status 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <glib.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

/* Bounds on the command line; going past one is a usage error. */
enum {
  SIM_DIM_MIN = 16,
  SIM_DIM_MAX = 4096,
  SIM_FPS_MAX = 120,
  SIM_KBPS_MIN = 16,
  SIM_KBPS_MAX = 100000,
  SIM_GOP_MAX = 1000,
  SIM_BFRAMES_MAX = 4,
  SIM_LABEL_MAX = 200,
};

typedef struct {
  int port;
  char *bind;
  char *path;
  char *video;
  char *audio;
  int width;
  int height;
  int fps;
  int bitrate;
  int gop;
  int bframes;
  char *user;
  char *password;
  char *auth;
  char *label;
  gboolean shared;
  gboolean no_shared;
  gboolean udp_allowed;
  gboolean tcp_only;
  char *pattern;
  gboolean sync_marks;
} sim_opts;

/* What the overlay probe needs; lives as long as main(). */
typedef struct {
  char *label; /* Pango markup: the escaped --label */
  gboolean has_overlay;
  /* --sync-marks */
  gboolean sync_marks;
  int width, height, fps, rate;
} sim_overlay;

/* --sync-marks state of one media (pipeline): the PTS of its first video
 * frame, from which every whole second gets a white frame and a beep. */
typedef struct {
  gint64 origin; /* -1 until the first frame; __atomic across the two streaming threads */
  int width, height, fps, rate;
} sim_marks;

/* How long the beep at each mark lasts. */
#define SIM_BEEP_NS (20 * GST_MSECOND)

static GMainLoop *sim_loop; /* quit by the signal handlers */

static gboolean sim_on_signal(gpointer data) {
  g_main_loop_quit(sim_loop);
  return G_SOURCE_CONTINUE;
}

static gboolean sim_has_element(const char *name) {
  GstElementFactory *f = gst_element_factory_find(name);
  if (!f) return FALSE;
  gst_object_unref(f);
  return TRUE;
}

/* The first AAC encoder this GStreamer has, or NULL. */
static const char *sim_aac_encoder(void) {
  static const char *const names[] = {"fdkaacenc", "voaacenc", "avenc_aac"};
  for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
    if (sim_has_element(names[i])) return names[i];
  return NULL;
}

/*
 * Builds the factory's launch description from validated options. The
 * label is not part of it (it is set on the overlay at run time), so no
 * user text ever goes through gst_parse_launch quoting.
 */
static char *sim_launch_string(const sim_opts *o, gboolean overlay, const char *aac) {
  GString *s = g_string_new("( ");
  g_string_append_printf(s,
                         "videotestsrc name=vsrc is-live=true pattern=%s ! "
                         "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 ! ",
                         o->pattern, o->width, o->height, o->fps);
  if (overlay)
    g_string_append(s,
                    "textoverlay name=overlay valignment=top halignment=left line-alignment=left "
                    "shaded-background=true font-desc=\"Monospace 20\" ! ");
  g_string_append(s, "videoconvert ! ");
  if (strcmp(o->video, "h264") == 0) {
    /* One thread, so one slice per frame as cameras send: with the slices
     * of zerolatency's sliced threads, SPS/PPS go before each IDR slice and
     * libavformat reads a keyframe as two packets with one timestamp. */
    if (o->bframes > 0) /* B-frames need the main profile; sent in decode order */
      g_string_append_printf(
          s,
          "x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max=%d "
          "bitrate=%d bframes=%d b-adapt=false ! video/x-h264,profile=main ! "
          "rtph264pay name=pay0 pt=96 config-interval=-1 ",
          o->gop, o->bitrate, o->bframes);
    else
      g_string_append_printf(
          s,
          "x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max=%d "
          "bitrate=%d ! video/x-h264,profile=constrained-baseline ! "
          "rtph264pay name=pay0 pt=96 config-interval=-1 ",
          o->gop, o->bitrate);
  } else {
    /* Closed GOPs so every keyframe is an IDR a recorder can cut at. */
    g_string_append_printf(s,
                           "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "
                           "bitrate=%d option-string=open-gop=0",
                           o->gop, o->bitrate);
    /* zerolatency turns B-frames off and the look-ahead they need */
    if (o->bframes > 0)
      g_string_append_printf(s, ":bframes=%d:b-adapt=0:rc-lookahead=%d", o->bframes,
                             o->bframes + 2);
    g_string_append(s,
                    " ! video/x-h265,profile=main ! "
                    "rtph265pay name=pay0 pt=96 config-interval=-1 ");
  }
  /* 20 ms of sound per buffer, so G.711 packets are the usual 20 ms too. */
  if (strcmp(o->audio, "aac") == 0) {
    g_string_append_printf(
        s,
        "audiotestsrc name=asrc is-live=true wave=sine freq=440 volume=0.2 "
        "samplesperbuffer=960 ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! "
        "audioconvert ! %s ! aacparse ! rtpmp4gpay name=pay1 pt=97 ",
        aac);
  } else if (strcmp(o->audio, "pcma") == 0 || strcmp(o->audio, "pcmu") == 0) {
    gboolean alaw = strcmp(o->audio, "pcma") == 0;
    g_string_append_printf(s,
                           "audiotestsrc name=asrc is-live=true wave=sine freq=440 volume=0.2 "
                           "samplesperbuffer=160 ! audio/x-raw,format=S16LE,rate=8000,channels=1 ! "
                           "audioconvert ! audio/x-raw,format=S16LE,rate=8000,channels=1 ! "
                           "%s ! %s name=pay1 pt=%d ",
                           alaw ? "alawenc" : "mulawenc", alaw ? "rtppcmapay" : "rtppcmupay",
                           alaw ? 8 : 0);
  }
  g_string_append(s, ")");
  return g_string_free(s, FALSE);
}

/*
 * Runs on the overlay's video pad before each frame is drawn: puts the
 * label and the wall-clock time of that frame on it. The source is live,
 * so a frame reaches here at about the moment it was "captured".
 */
static GstPadProbeReturn sim_overlay_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  const sim_overlay *ov = data;
  GstObject *overlay = gst_pad_get_parent(pad);
  if (!overlay) return GST_PAD_PROBE_OK;
  gint64 us = g_get_real_time();
  GDateTime *t = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
  char *when = g_date_time_format(t, "%Y-%m-%d %H:%M:%S");
  char *text =
      g_strdup_printf("%s\n%s.%03d UTC", ov->label, when, (int)(us % G_USEC_PER_SEC / 1000));
  g_object_set(overlay, "text", text, NULL);
  g_free(text);
  g_free(when);
  g_date_time_unref(t);
  gst_object_unref(overlay);
  return GST_PAD_PROBE_OK;
}

/* Makes the probed buffer writable and maps it; FALSE when it has no
 * time or cannot be mapped (then it passes unchanged). */
static gboolean sim_map_probed(GstPadProbeInfo *info, GstMapInfo *map, gint64 *pts) {
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buf || !GST_BUFFER_PTS_IS_VALID(buf)) return FALSE;
  *pts = (gint64)GST_BUFFER_PTS(buf);
  buf = gst_buffer_make_writable(buf);
  GST_PAD_PROBE_INFO_DATA(info) = buf;
  return gst_buffer_map(buf, map, GST_MAP_WRITE);
}

/* --sync-marks, video: the frame nearest each whole second after the
 * first frame is made white (before the clock is drawn on it). */
static GstPadProbeReturn sim_flash_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  sim_marks *m = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buf || !GST_BUFFER_PTS_IS_VALID(buf)) return GST_PAD_PROBE_OK;
  gint64 pts = (gint64)GST_BUFFER_PTS(buf);
  gint64 origin = __atomic_load_n(&m->origin, __ATOMIC_ACQUIRE);
  if (origin < 0) {
    origin = pts;
    __atomic_store_n(&m->origin, origin, __ATOMIC_RELEASE);
  }
  gint64 half = GST_SECOND / m->fps / 2;
  gint64 since = pts - origin;
  GstMapInfo map;
  if (since < 0 || (since + half) % GST_SECOND >= 2 * half || !sim_map_probed(info, &map, &pts))
    return GST_PAD_PROBE_OK;
  /* I420: the luma plane (rows of GST_ROUND_UP_4(width)) white, chroma grey */
  gsize luma = (gsize)GST_ROUND_UP_4(m->width) * (gsize)m->height;
  if (luma > map.size) luma = map.size;
  memset(map.data, 235, luma);
  memset(map.data + luma, 128, map.size - luma);
  gst_buffer_unmap(GST_PAD_PROBE_INFO_BUFFER(info), &map);
  return GST_PAD_PROBE_OK;
}

/* --sync-marks, audio: silence, except SIM_BEEP_NS of the sine from each
 * whole second after the first video frame, to the sample. */
static GstPadProbeReturn sim_beep_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  sim_marks *m = data;
  gint64 origin = __atomic_load_n(&m->origin, __ATOMIC_ACQUIRE), pts;
  GstMapInfo map;
  if (!sim_map_probed(info, &map, &pts)) return GST_PAD_PROBE_OK;
  gint16 *pcm = (gint16 *)map.data; /* S16LE mono, set in the launch string */
  gsize n = map.size / 2;
  for (gsize i = 0; i < n; i++) {
    gint64 since = pts + (gint64)gst_util_uint64_scale(i, GST_SECOND, (guint64)m->rate) - origin;
    if (origin < 0 || since < 0 || since % GST_SECOND >= SIM_BEEP_NS) pcm[i] = 0;
  }
  gst_buffer_unmap(GST_PAD_PROBE_INFO_BUFFER(info), &map);
  return GST_PAD_PROBE_OK;
}

static void sim_probe_src(GstElement *bin, const char *name, GstPadProbeCallback cb, gpointer d) {
  GstElement *e = gst_bin_get_by_name_recurse_up(GST_BIN(bin), name);
  if (!e) return;
  GstPad *pad = gst_element_get_static_pad(e, "src");
  if (pad) {
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, cb, d, NULL);
    gst_object_unref(pad);
  }
  gst_object_unref(e);
}

/* A new media was built from the launch string: hook its overlay, and
 * with --sync-marks its sources. */
static void sim_on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media,
                                   gpointer data) {
  const sim_overlay *ov = data;
  GstElement *bin = gst_rtsp_media_get_element(media);
  if (ov->sync_marks) {
    sim_marks *m = g_new0(sim_marks, 1);
    *m = (sim_marks){-1, ov->width, ov->height, ov->fps, ov->rate};
    g_object_set_data_full(G_OBJECT(media), "vigil-sync-marks", m, g_free);
    sim_probe_src(bin, "vsrc", sim_flash_probe, m);
    sim_probe_src(bin, "asrc", sim_beep_probe, m);
  }
  GstElement *overlay =
      ov->has_overlay ? gst_bin_get_by_name_recurse_up(GST_BIN(bin), "overlay") : NULL;
  if (overlay) {
    GstPad *pad = gst_element_get_static_pad(overlay, "video_sink");
    if (pad) {
      gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, sim_overlay_probe, data, NULL);
      gst_object_unref(pad);
    }
    gst_object_unref(overlay);
  }
  gst_object_unref(bin);
}

/*
 * A PLAY with a Range header makes the server seek the media. On this
 * shared live pipeline a seek is a flush of the one encoder every client
 * reads: it restarts the timestamps of the others, and when tens of PLAYs
 * arrive together their flushes and the blocking of the streams race with
 * the streaming threads until the pipeline deadlocks (no more frames, no
 * more answers). A camera does not seek either: drop the Range, so PLAY
 * only starts sending from now.
 */
typedef GstRTSPResult (*sim_remove_header_fn)(GstRTSPMessage *, GstRTSPHeaderField, gint);
static sim_remove_header_fn sim_remove_header;

static GstRTSPStatusCode sim_on_pre_play(GstRTSPClient *client, GstRTSPContext *ctx,
                                         gpointer data) {
  if (ctx && ctx->request) sim_remove_header(ctx->request, GST_RTSP_HDR_RANGE, -1);
  return GST_RTSP_STS_OK;
}

static void sim_on_client_connected(GstRTSPServer *server, GstRTSPClient *client, gpointer data) {
  g_signal_connect(client, "pre-play-request", G_CALLBACK(sim_on_pre_play), NULL);
}

static GstRTSPFilterResult sim_drop_client(GstRTSPServer *server, GstRTSPClient *client,
                                           gpointer data) {
  return GST_RTSP_FILTER_REMOVE;
}

/* Checks the options and fills in derived defaults; 0 or -1 after a message. */
static int sim_check_opts(sim_opts *o) {
#define SIM_BAD(...)                    \
  do {                                  \
    fprintf(stderr, "vigil-simcam: ");  \
    fprintf(stderr, __VA_ARGS__);       \
    fprintf(stderr, " (see --help)\n"); \
    return -1;                          \
  } while (0)
  if (o->port < 0 || o->port > 65535) SIM_BAD("--port must be 0..65535");
  if (!o->path || o->path[0] != '/' || strpbrk(o->path, " \t\r\n?#"))
    SIM_BAD("--path must start with / and hold no spaces, ? or #");
  if (strcmp(o->video, "h264") != 0 && strcmp(o->video, "h265") != 0)
    SIM_BAD("--video must be h264 or h265");
  if (strcmp(o->audio, "aac") != 0 && strcmp(o->audio, "pcma") != 0 &&
      strcmp(o->audio, "pcmu") != 0 && strcmp(o->audio, "none") != 0)
    SIM_BAD("--audio must be aac, pcma, pcmu or none");
  if (o->width < SIM_DIM_MIN || o->width > SIM_DIM_MAX || o->width % 2)
    SIM_BAD("--width must be even and %d..%d", SIM_DIM_MIN, SIM_DIM_MAX);
  if (o->height < SIM_DIM_MIN || o->height > SIM_DIM_MAX || o->height % 2)
    SIM_BAD("--height must be even and %d..%d", SIM_DIM_MIN, SIM_DIM_MAX);
  if (o->fps < 1 || o->fps > SIM_FPS_MAX) SIM_BAD("--fps must be 1..%d", SIM_FPS_MAX);
  if (o->bitrate < SIM_KBPS_MIN || o->bitrate > SIM_KBPS_MAX)
    SIM_BAD("--bitrate must be %d..%d kbit/s", SIM_KBPS_MIN, SIM_KBPS_MAX);
  if (o->gop == 0) o->gop = 2 * o->fps;
  if (o->gop < 1 || o->gop > SIM_GOP_MAX) SIM_BAD("--gop must be 1..%d frames", SIM_GOP_MAX);
  if (o->bframes < 0 || o->bframes > SIM_BFRAMES_MAX)
    SIM_BAD("--bframes must be 0..%d", SIM_BFRAMES_MAX);
  if (strcmp(o->auth, "basic") != 0 && strcmp(o->auth, "digest") != 0 &&
      strcmp(o->auth, "any") != 0)
    SIM_BAD("--auth must be basic, digest or any");
  if (!o->user != !o->password) SIM_BAD("--user and --password go together");
  if (o->user && (!*o->user || strchr(o->user, ':')))
    SIM_BAD("--user must be non-empty and hold no ':'");
  if (strcmp(o->pattern, "smpte") != 0 && strcmp(o->pattern, "ball") != 0)
    SIM_BAD("--pattern must be smpte or ball");
  if (!o->label) o->label = g_strdup_printf("simcam %s", o->path);
  if (strlen(o->label) > SIM_LABEL_MAX) SIM_BAD("--label is longer than %d bytes", SIM_LABEL_MAX);
  if (o->no_shared) o->shared = FALSE;
  if (o->tcp_only && o->udp_allowed) SIM_BAD("--tcp-only and --udp-allowed contradict");
  return 0;
#undef SIM_BAD
}

/* Sets up RTSP authentication for the one role that may use the mount. */
static void sim_setup_auth(GstRTSPServer *server, GstRTSPMediaFactory *factory, const sim_opts *o) {
  GstRTSPAuth *auth = gst_rtsp_auth_new();
  GstRTSPToken *token =
      gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "user", NULL);
  GstRTSPAuthMethod methods = 0;
  if (strcmp(o->auth, "digest") != 0) {
    char *basic = gst_rtsp_auth_make_basic(o->user, o->password);
    gst_rtsp_auth_add_basic(auth, basic, token);
    g_free(basic);
    methods |= GST_RTSP_AUTH_BASIC;
  }
  if (strcmp(o->auth, "basic") != 0) {
    gst_rtsp_auth_add_digest(auth, o->user, o->password, token);
    methods |= GST_RTSP_AUTH_DIGEST;
  }
  gst_rtsp_auth_set_supported_methods(auth, methods);
  gst_rtsp_token_unref(token);
  /* No default token: a request without valid credentials gets 401. */
  gst_rtsp_media_factory_add_role(factory, "user", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
                                  G_TYPE_BOOLEAN, TRUE, GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
                                  G_TYPE_BOOLEAN, TRUE, NULL);
  gst_rtsp_server_set_auth(server, auth);
  g_object_unref(auth);
}

int main(int argc, char **argv) {
  sim_opts o = {
      .port = 8554,
      .width = 1280,
      .height = 720,
      .fps = 25,
      .bitrate = 2000,
      .shared = TRUE,
  };
  GOptionEntry entries[] = {
      {"port", 0, 0, G_OPTION_ARG_INT, &o.port, "RTSP port (default 8554; 0 = any free one)", "N"},
      {"bind", 0, 0, G_OPTION_ARG_STRING, &o.bind, "address to listen on (default 127.0.0.1)",
       "ADDR"},
      {"path", 0, 0, G_OPTION_ARG_STRING, &o.path, "mount path (default /cam)", "PATH"},
      {"video", 0, 0, G_OPTION_ARG_STRING, &o.video, "video codec: h264 (default) or h265",
       "CODEC"},
      {"audio", 0, 0, G_OPTION_ARG_STRING, &o.audio,
       "audio codec: aac (default), pcma, pcmu or none", "CODEC"},
      {"width", 0, 0, G_OPTION_ARG_INT, &o.width, "picture width (default 1280)", "PX"},
      {"height", 0, 0, G_OPTION_ARG_INT, &o.height, "picture height (default 720)", "PX"},
      {"fps", 0, 0, G_OPTION_ARG_INT, &o.fps, "frames per second (default 25)", "N"},
      {"bitrate", 0, 0, G_OPTION_ARG_INT, &o.bitrate, "video bitrate (default 2000)", "KBPS"},
      {"gop", 0, 0, G_OPTION_ARG_INT, &o.gop, "keyframe interval (default 2*fps)", "FRAMES"},
      {"bframes", 0, 0, G_OPTION_ARG_INT, &o.bframes,
       "B-frames between reference frames, 0..4 (default 0: none, as most cameras)", "N"},
      {"user", 0, 0, G_OPTION_ARG_STRING, &o.user, "require RTSP auth with this user name", "U"},
      {"password", 0, 0, G_OPTION_ARG_STRING, &o.password, "password for --user", "P"},
      {"auth", 0, 0, G_OPTION_ARG_STRING, &o.auth,
       "auth scheme offered: digest (default), basic or any (both)", "SCHEME"},
      {"label", 0, 0, G_OPTION_ARG_STRING, &o.label,
       "text burnt into the picture above the clock (default \"simcam PATH\")", "TEXT"},
      {"pattern", 0, 0, G_OPTION_ARG_STRING, &o.pattern, "test picture: smpte (default) or ball",
       "NAME"},
      {"shared", 0, 0, G_OPTION_ARG_NONE, &o.shared, "one encoder for all clients (the default)",
       NULL},
      {"no-shared", 0, 0, G_OPTION_ARG_NONE, &o.no_shared, "one encoder per client", NULL},
      {"udp-allowed", 0, 0, G_OPTION_ARG_NONE, &o.udp_allowed,
       "offer UDP as well as TCP transport (the default)", NULL},
      {"tcp-only", 0, 0, G_OPTION_ARG_NONE, &o.tcp_only, "offer TCP-interleaved transport only",
       NULL},
      {"sync-marks", 0, 0, G_OPTION_ARG_NONE, &o.sync_marks,
       "a white frame and a 20 ms beep at every whole second (silence between), for A/V sync "
       "checks",
       NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };

  GOptionContext *ctx = g_option_context_new("- simulated IP camera (RTSP server)");
  g_option_context_set_summary(
      ctx,
      "Serves a live test picture with a burnt-in wall clock (UTC, ms) and a sine\n"
      "tone at rtsp://BIND:PORT/PATH. Prints \"simcam ready URL\" when listening;\n"
      "SIGTERM or SIGINT stops it with status 0.");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_add_group(ctx, gst_init_get_option_group());
  GError *err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fprintf(stderr, "vigil-simcam: %s (see --help)\n", err->message);
    g_error_free(err);
    g_option_context_free(ctx);
    return 2;
  }
  g_option_context_free(ctx);
  if (argc > 1) {
    fprintf(stderr, "vigil-simcam: unexpected argument '%s' (see --help)\n", argv[1]);
    return 2;
  }
  if (!o.bind) o.bind = g_strdup("127.0.0.1");
  if (!o.path) o.path = g_strdup("/cam");
  if (!o.video) o.video = g_strdup("h264");
  if (!o.audio) o.audio = g_strdup("aac");
  if (!o.auth) o.auth = g_strdup("digest");
  if (!o.pattern) o.pattern = g_strdup("smpte");
  if (sim_check_opts(&o) < 0) return 2;

  const char *venc = strcmp(o.video, "h264") == 0 ? "x264enc" : "x265enc";
  if (!sim_has_element(venc)) {
    fprintf(stderr, "vigil-simcam: GStreamer element %s is missing\n", venc);
    return 1;
  }
  const char *aac = NULL;
  if (strcmp(o.audio, "aac") == 0 && !(aac = sim_aac_encoder())) {
    fprintf(stderr, "vigil-simcam: no AAC encoder (fdkaacenc, voaacenc, avenc_aac)\n");
    return 1;
  }
  gboolean overlay = sim_has_element("textoverlay");
  if (!overlay)
    fprintf(stderr, "vigil-simcam: textoverlay missing (gstreamer1.0-x): no burnt-in clock\n");

  char *launch = sim_launch_string(&o, overlay, aac);
  /* textoverlay reads its text as Pango markup. */
  sim_overlay ov = {.label = g_markup_escape_text(o.label, -1),
                    .has_overlay = overlay,
                    .sync_marks = o.sync_marks,
                    .width = o.width,
                    .height = o.height,
                    .fps = o.fps,
                    .rate = strcmp(o.audio, "aac") == 0 ? 48000 : 8000};

  GstRTSPServer *server = gst_rtsp_server_new();
  char service[16];
  g_snprintf(service, sizeof service, "%d", o.port);
  gst_rtsp_server_set_address(server, o.bind);
  gst_rtsp_server_set_service(server, service);

  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, launch);
  gst_rtsp_media_factory_set_shared(factory, o.shared);
  gst_rtsp_media_factory_set_protocols(factory, o.tcp_only ? GST_RTSP_LOWER_TRANS_TCP
                                                           : GST_RTSP_LOWER_TRANS_TCP |
                                                                 GST_RTSP_LOWER_TRANS_UDP |
                                                                 GST_RTSP_LOWER_TRANS_UDP_MCAST);
  if (overlay || o.sync_marks)
    g_signal_connect(factory, "media-configure", G_CALLBACK(sim_on_media_configure), &ov);
  if (o.user) sim_setup_auth(server, factory, &o);
  /* libgstrtsp is loaded with the RTSP server library but is not on our
   * link line (tools/meson.build names the server library only). */
  sim_remove_header = (sim_remove_header_fn)dlsym(RTLD_DEFAULT, "gst_rtsp_message_remove_header");
  if (sim_remove_header)
    g_signal_connect(server, "client-connected", G_CALLBACK(sim_on_client_connected), NULL);
  else
    fprintf(stderr, "vigil-simcam: gst_rtsp_message_remove_header not found: PLAY may seek\n");

  GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
  gst_rtsp_mount_points_add_factory(mounts, o.path, factory); /* takes factory */
  g_object_unref(mounts);

  int status = 0;
  sim_loop = g_main_loop_new(NULL, FALSE);
  guint server_src = gst_rtsp_server_attach(server, NULL);
  if (server_src == 0) {
    fprintf(stderr, "vigil-simcam: cannot listen on %s port %d\n", o.bind, o.port);
    status = 1;
  } else {
    g_unix_signal_add(SIGTERM, sim_on_signal, NULL);
    g_unix_signal_add(SIGINT, sim_on_signal, NULL);
    /* Wildcard binds are reached through loopback; IPv6 needs brackets. */
    const char *host = o.bind;
    if (strcmp(host, "0.0.0.0") == 0) host = "127.0.0.1";
    if (strcmp(host, "::") == 0) host = "::1";
    gboolean v6 = strchr(host, ':') != NULL;
    printf("simcam ready rtsp://%s%s%s:%d%s\n", v6 ? "[" : "", host, v6 ? "]" : "",
           gst_rtsp_server_get_bound_port(server), o.path);
    fflush(stdout);
    g_main_loop_run(sim_loop);

    /* Close every session so the pipelines stop before we go. */
    g_source_remove(server_src);
    GList *gone = gst_rtsp_server_client_filter(server, sim_drop_client, NULL);
    g_list_free_full(gone, g_object_unref);
  }

  g_object_unref(server);
  g_main_loop_unref(sim_loop);
  g_free(launch);
  g_free(ov.label);
  g_free(o.bind);
  g_free(o.path);
  g_free(o.video);
  g_free(o.audio);
  g_free(o.user);
  g_free(o.password);
  g_free(o.auth);
  g_free(o.label);
  g_free(o.pattern);
  return status;
}
