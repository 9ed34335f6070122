/* Observed-state changes for the layers above the service (service-watch.h):
 * a store watch on SERVICE_KEY_OBSERVED, reported by resource name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drbdd/store/store.h"
#include "macro.h"
#include "service-watch.h"

struct ServiceWatch {
        StoreWatch *watch;
};

int service_watch_observed(Service *s, ServiceWatch **ret) {
        Store *st = service_store(s);
        int64_t rev = 0;
        int r;
        if (!st)
                return -EINVAL;
        if ((r = store_revision(st, &rev)) < 0)
                return r;
        ServiceWatch *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        if ((r = store_watch_open(st, SERVICE_KEY_OBSERVED, rev, &w->watch)) < 0) {
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int service_watch_fd(ServiceWatch *w) {
        return store_watch_fd(w->watch);
}

int service_watch_read(ServiceWatch *w, ServiceWatchFn fn, void *userdata) {
        StoreEventList l;
        int r = store_watch_read(w->watch, &l);
        if (r < 0)
                return r;
        /* Keys are SERVICE_KEY_OBSERVED "<node>/<rd>"; the store's keys are
         * not trusted to have that shape. */
        for (size_t i = 0; i < l.n; i++) {
                const char *k = l.items[i].kv.key;
                if (!k || !startswith(k, SERVICE_KEY_OBSERVED))
                        continue;
                const char *slash = strchr(k + strlen(SERVICE_KEY_OBSERVED), '/');
                if (slash && slash[1])
                        fn(slash + 1, userdata);
        }
        store_event_list_done(&l);
        return 0;
}

ServiceWatch *service_watch_close(ServiceWatch *w) {
        if (!w)
                return NULL;
        store_watch_close(w->watch);
        free(w);
        return NULL;
}
