/* log.c - timestamped lines on stderr, filtered by level. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int log_level = VG_LOG_INFO;
static const char *level_names[] = {"error", "warn", "info", "debug"};

void vg_log_set_level(int level) { log_level = level; }
int vg_log_level(void) { return log_level; }

int vg_log_level_parse(const char *name) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, level_names[i]) == 0) return i;
  return -1;
}

void vg_log(int level, const char *fmt, ...) {
  if (level > log_level) return;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
  n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
                level_names[level < 0   ? 0
                            : level > 3 ? 3
                                        : level]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  /* One fputs per line so concurrent threads do not interleave mid-line. */
  size_t len = strlen(line);
  if (len < sizeof line - 1) {
    line[len] = '\n';
    line[len + 1] = 0;
  }
  fputs(line, stderr);
}
