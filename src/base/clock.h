/* clock.h - wall-clock and monotonic time in milliseconds. */
#ifndef VG_CLOCK_H
#define VG_CLOCK_H

#include <stdint.h>

/* UTC milliseconds since the epoch. */
int64_t vg_now_ms(void);
/* Monotonic milliseconds, for time-outs and rates. */
uint64_t vg_mono_ms(void);

#endif
