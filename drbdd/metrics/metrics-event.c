/* The collection timer: collectors run on the event loop, never on the HTTP thread. */
#include <time.h>

#include "drbdd/metrics/metrics-event.h"
#include "macro.h"
#include "thread.h"

static int on_collect(sd_event_source *s, uint64_t usec, void *userdata) {
        Metrics *m = userdata;
        uint64_t now, last;
        metrics_collect(m);
        last = metrics_last_render_usec(m);
        now = monotonic_usec();
        bool busy = last && now - last < 60 * 1000000ULL;
        (void) sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &now);
        (void) sd_event_source_set_time(s, now + (busy ? METRICS_COLLECT_USEC : METRICS_COLLECT_IDLE_USEC));
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int metrics_event_attach(Metrics *m, sd_event *event, sd_event_source **ret) {
        uint64_t now;
        int r;
        metrics_collect(m);
        if ((r = sd_event_now(event, CLOCK_MONOTONIC, &now)) < 0)
                return r;
        return sd_event_add_time(event, ret, CLOCK_MONOTONIC, now + METRICS_COLLECT_USEC, 100000, on_collect, m);
}
