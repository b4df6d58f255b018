/* log.h - the process-wide logger (one of the two allowed globals). */
#ifndef VG_LOG_H
#define VG_LOG_H

enum { VG_LOG_ERROR = 0, VG_LOG_WARN = 1, VG_LOG_INFO = 2, VG_LOG_DEBUG = 3 };

void vg_log_set_level(int level);
int vg_log_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int vg_log_level_parse(const char *name);
void vg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vg_log_error(...) vg_log(VG_LOG_ERROR, __VA_ARGS__)
#define vg_log_warn(...) vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_log_info(...) vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_log_debug(...) vg_log(VG_LOG_DEBUG, __VA_ARGS__)

#endif
