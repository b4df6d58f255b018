/* sdp.c - SDP parsing for the RTSP client; see sdp.h.
 *
 * Line by line: "m=" opens a section, "a=rtpmap", "a=fmtp", "a=control"
 * and "a=framerate" fill the open section (or the session before the first
 * m=). Only the first payload type of each m= line is described: a camera
 * offers one format per stream. */
#include "ingest/sdp.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

static int b64_value(int ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+' || ch == '-') return 62;
  if (ch == '/' || ch == '_') return 63;
  return -1;
}

int vg_sdp_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap) {
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (in[i] == '=') break;
    int v = b64_value((unsigned char)in[i]);
    if (v < 0) return VG_EINVAL;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n >= cap) return VG_ETOOBIG;
      out[n++] = (uint8_t)(acc >> bits);
    }
  }
  return (int)n;
}

/* Copies at most cap-1 bytes of s[0..n) into out, NUL-terminated. */
static void copy_field(char *out, size_t cap, const char *s, size_t n) {
  if (n >= cap) n = cap - 1;
  memcpy(out, s, n);
  out[n] = 0;
}

/* Appends one base64 parameter set as an Annex-B unit to m->sprop. */
static void add_sprop(vg_sdp_media *m, const char *b64, size_t n) {
  uint8_t tmp[VG_SDP_SPROP_MAX];
  int got = vg_sdp_base64_decode(b64, n, tmp, sizeof tmp);
  if (got <= 0 || m->sprop_len + 4 + (size_t)got > sizeof m->sprop) return;
  static const uint8_t sc[4] = {0, 0, 0, 1};
  memcpy(m->sprop + m->sprop_len, sc, 4);
  memcpy(m->sprop + m->sprop_len + 4, tmp, (size_t)got);
  m->sprop_len += 4 + (size_t)got;
}

/* A comma-separated list of base64 parameter sets. */
static void add_sprop_list(vg_sdp_media *m, const char *v, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && v[j] != ',') j++;
    if (j > i) add_sprop(m, v + i, j - i);
    i = j + 1;
  }
}

static int hex_value(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  ch = tolower(ch);
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

static int small_int(const char *v, size_t n) {
  int x = 0;
  if (n == 0 || n > 6) return 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return 0;
    x = x * 10 + (v[i] - '0');
  }
  return x;
}

static bool key_is(const char *k, size_t kn, const char *want) {
  return strlen(want) == kn && strncasecmp(k, want, kn) == 0;
}

/* "a=fmtp:<pt> k=v;k=v" parameters of the current section. */
static void parse_fmtp(vg_sdp_media *m, const char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (p[i] == ' ' || p[i] == ';')) i++;
    size_t ks = i;
    while (i < n && p[i] != '=' && p[i] != ';') i++;
    size_t kn = i - ks;
    const char *k = p + ks;
    if (i >= n || p[i] != '=') continue;
    i++;
    size_t vs = i;
    while (i < n && p[i] != ';') i++;
    const char *v = p + vs;
    size_t vn = i - vs;
    while (vn && v[vn - 1] == ' ') vn--;
    if (key_is(k, kn, "packetization-mode")) {
      m->packetization_mode = small_int(v, vn);
    } else if (key_is(k, kn, "sprop-parameter-sets") || key_is(k, kn, "sprop-vps") ||
               key_is(k, kn, "sprop-sps") || key_is(k, kn, "sprop-pps")) {
      add_sprop_list(m, v, vn);
    } else if (key_is(k, kn, "mode")) {
      copy_field(m->mode, sizeof m->mode, v, vn);
    } else if (key_is(k, kn, "config")) {
      size_t len = 0;
      bool ok = vn % 2 == 0 && vn / 2 <= sizeof m->config;
      for (size_t j = 0; ok && j + 1 < vn; j += 2) {
        int hi = hex_value((unsigned char)v[j]), lo = hex_value((unsigned char)v[j + 1]);
        if (hi < 0 || lo < 0)
          ok = false;
        else
          m->config[len++] = (uint8_t)(hi << 4 | lo);
      }
      m->config_len = ok ? len : 0;
    } else if (key_is(k, kn, "sizelength")) {
      m->sizelength = small_int(v, vn);
    } else if (key_is(k, kn, "indexlength")) {
      m->indexlength = small_int(v, vn);
    } else if (key_is(k, kn, "indexdeltalength")) {
      m->indexdeltalength = small_int(v, vn);
    } else if (key_is(k, kn, "constantduration")) {
      m->constant_duration = small_int(v, vn);
    }
  }
}

/* Reads the payload type number at *p; -1 when there is none. */
static int read_pt(const char **p, const char *end) {
  int pt = 0, digits = 0;
  while (*p < end && **p >= '0' && **p <= '9' && digits < 4) {
    pt = pt * 10 + (**p - '0');
    (*p)++;
    digits++;
  }
  return digits && pt < 128 ? pt : -1;
}

static void static_payload(vg_sdp_media *m) {
  if (m->payload == 0 || m->payload == 8) {
    snprintf(m->encoding, sizeof m->encoding, "%s", m->payload == 0 ? "PCMU" : "PCMA");
    m->clock_rate = 8000;
    m->channels = 1;
  }
}

/* "m=video 0 RTP/AVP 96" */
static void parse_m(vg_sdp_media *m, const char *p, const char *end) {
  memset(m, 0, sizeof *m);
  m->payload = -1;
  m->channels = 1;
  const char *s = p;
  while (p < end && *p != ' ') p++;
  copy_field(m->type, sizeof m->type, s, (size_t)(p - s));
  for (int field = 0; field < 2; field++) { /* port, protocol */
    while (p < end && *p == ' ') p++;
    while (p < end && *p != ' ') p++;
  }
  while (p < end && *p == ' ') p++;
  m->payload = read_pt(&p, end);
  static_payload(m);
}

/* "a=rtpmap:96 H264/90000[/2]" for the section's payload type */
static void parse_rtpmap(vg_sdp_media *m, const char *p, const char *end) {
  int pt = read_pt(&p, end);
  if (pt < 0 || pt != m->payload) return;
  while (p < end && *p == ' ') p++;
  const char *s = p;
  while (p < end && *p != '/') p++;
  copy_field(m->encoding, sizeof m->encoding, s, (size_t)(p - s));
  for (char *c = m->encoding; *c; c++) *c = (char)toupper((unsigned char)*c);
  if (p < end) p++;
  s = p;
  while (p < end && *p != '/') p++;
  m->clock_rate = small_int(s, (size_t)(p - s));
  if (p < end) {
    p++;
    int ch = small_int(p, (size_t)(end - p));
    if (ch > 0 && ch <= 8) m->channels = ch;
  }
}

int vg_sdp_parse(const char *text, size_t len, vg_sdp *out) {
  memset(out, 0, sizeof *out);
  if (len > VG_SDP_MAX_BYTES) return VG_ETOOBIG;
  const char *p = text, *end = text + len;
  bool saw_v = false, in_media = false, skip = false;
  vg_sdp_media *m = NULL;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *next = eol ? eol + 1 : end;
    const char *le = eol ? eol : end;
    if (le > p && le[-1] == '\r') le--;
    if (le - p >= 2 && p[1] == '=') {
      char t = p[0];
      const char *v = p + 2;
      if (t == 'v') {
        saw_v = true;
      } else if (t == 'm') {
        in_media = true;
        skip = out->nmedia >= VG_SDP_MAX_MEDIA;
        if (!skip) {
          m = &out->media[out->nmedia++];
          parse_m(m, v, le);
        }
      } else if (t == 'a' && !skip) {
        size_t n = (size_t)(le - v);
        if (n > 8 && strncasecmp(v, "control:", 8) == 0) {
          char *dst = in_media ? m->control : out->control;
          copy_field(dst, VG_SDP_CONTROL_MAX, v + 8, n - 8);
        } else if (in_media && n > 7 && strncasecmp(v, "rtpmap:", 7) == 0) {
          parse_rtpmap(m, v + 7, le);
        } else if (in_media && n > 5 && strncasecmp(v, "fmtp:", 5) == 0) {
          const char *q = v + 5;
          int pt = read_pt(&q, le);
          if (pt >= 0 && pt == m->payload) parse_fmtp(m, q, (size_t)(le - q));
        } else if (in_media && n > 10 && strncasecmp(v, "framerate:", 10) == 0) {
          char tmp[32];
          copy_field(tmp, sizeof tmp, v + 10, n - 10);
          double fr = strtod(tmp, NULL);
          if (fr > 0 && fr <= 1000) m->framerate = fr;
        }
      }
    }
    p = next;
  }
  if (!saw_v || out->nmedia == 0) return VG_EINVAL;
  return 0;
}
