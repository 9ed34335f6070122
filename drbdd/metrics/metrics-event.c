/* The collection timer: collectors run on an event loop (the thread that owns
 * their state), never on the HTTP thread. */
#include <time.h>

#include "drbdd/metrics/metrics-event.h"
#include "macro.h"
#include "thread.h"

typedef struct Collection {
        Metrics *m;
        MetricsCollectFn fn; /* NULL: the registered collectors */
        void *userdata;
} Collection;

static void collection_run(Collection *c) {
        if (c->fn)
                metrics_collect_one(c->m, c->fn, c->userdata);
        else
                metrics_collect(c->m);
}

static int on_collect(sd_event_source *s, uint64_t usec, void *userdata) {
        Collection *c = userdata;
        uint64_t now, last;
        collection_run(c);
        last = metrics_last_render_usec(c->m);
        now = thread_monotonic_usec();
        bool busy = last && now - last < 60 * 1000000ULL;
        (void) sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &now);
        (void) sd_event_source_set_time(s, now + (busy ? METRICS_COLLECT_USEC : METRICS_COLLECT_IDLE_USEC));
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int metrics_event_attach_fn(Metrics *m, sd_event *event, MetricsCollectFn fn, void *userdata,
                            sd_event_source **ret) {
        Collection *c = calloc(1, sizeof *c);
        uint64_t now;
        int r;
        if (!c)
                return -ENOMEM;
        *c = (Collection) { .m = m, .fn = fn, .userdata = userdata };
        collection_run(c);
        if ((r = sd_event_now(event, CLOCK_MONOTONIC, &now)) < 0 ||
            (r = sd_event_add_time(event, ret, CLOCK_MONOTONIC, now + METRICS_COLLECT_USEC, 100000, on_collect, c)) < 0) {
                free(c);
                return r;
        }
        (void) sd_event_source_set_destroy_callback(*ret, free);
        return 0;
}

int metrics_event_attach(Metrics *m, sd_event *event, sd_event_source **ret) {
        return metrics_event_attach_fn(m, event, NULL, NULL, ret);
}
