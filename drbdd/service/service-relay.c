/* Change notifications across threads: see service-relay.h. */
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "service-relay.h"

typedef struct Note {
        struct Note *next;
        char *kind, *name, *action;
} Note;

struct ServiceRelay {
        Service *target;
        sd_event_source *source;
        int fd;
        pthread_mutex_t lock;
        Note *head, **tail; /* under lock */
};

static void notes_free(Note *n) {
        while (n) {
                Note *next = n->next;
                free(n->kind);
                free(n->name);
                free(n->action);
                free(n);
                n = next;
        }
}

/* Any thread: queue the change and wake the loop. */
static void on_change(const char *kind, const char *name, const char *action, void *userdata) {
        ServiceRelay *r = userdata;
        Note *n = calloc(1, sizeof *n);
        if (!n || !(n->kind = strdup(kind)) || !(n->name = strdup(name)) || !(n->action = strdup(action))) {
                notes_free(n);
                log_warning("Out of memory: a change notification of %s '%s' is lost", kind, name);
                return;
        }
        pthread_mutex_lock(&r->lock);
        *r->tail = n;
        r->tail = &n->next;
        pthread_mutex_unlock(&r->lock);
        (void) eventfd_write(r->fd, 1);
}

void service_relay_flush(ServiceRelay *r) {
        pthread_mutex_lock(&r->lock);
        Note *list = r->head;
        r->head = NULL;
        r->tail = &r->head;
        pthread_mutex_unlock(&r->lock);
        for (Note *n = list; n; n = n->next)
                service_notify(r->target, n->kind, n->name, n->action);
        notes_free(list);
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ServiceRelay *r = userdata;
        eventfd_t v;
        (void) eventfd_read(r->fd, &v);
        service_relay_flush(r);
        return 0;
}

int service_relay_new(Service *target, sd_event *event, ServiceRelay **ret) {
        ServiceRelay *r = calloc(1, sizeof *r);
        int k;
        if (!r)
                return -ENOMEM;
        r->target = target;
        r->tail = &r->head;
        pthread_mutex_init(&r->lock, NULL);
        r->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->fd < 0) {
                k = -errno;
                service_relay_free(r);
                return k;
        }
        if ((k = sd_event_add_io(event, &r->source, r->fd, EPOLLIN, on_wake, r)) < 0) {
                service_relay_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

void service_relay_attach(ServiceRelay *r, Service *from) {
        service_set_change_callback(from, on_change, r);
}

ServiceRelay *service_relay_free(ServiceRelay *r) {
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->source);
        if (r->fd >= 0)
                close(r->fd);
        notes_free(r->head);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}
