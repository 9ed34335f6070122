/* API workers: see bus-worker.h for the threading rules. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "thread.h"
#include "bus-worker.h"
#include "log.h"
#include "macro.h"

/* Loop work queued by a call (bus_worker_on_loop()). */
typedef struct LoopWork {
        struct LoopWork *next;
        void (*fn)(void *arg);
        void *arg;
        void (*free_fn)(void *arg);
} LoopWork;

typedef struct Job {
        struct Job *next;
        sd_bus_message *m, *reply; /* referenced and unreferenced on the loop only */
        const BusMethod *meth;
        void *userdata;
        int r;
        char *msg;
        uint64_t start; /* monotonic µs at submit, for the call observer */
        LoopWork *loop_head, **loop_tail;
} Job;

typedef struct Worker {
        BusWorkers *pool;
        pthread_t thread;
        void *context;
} Worker;

struct BusWorkers {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        Job *queue, **queue_tail; /* to run */
        Job *done, **done_tail;   /* to answer on the loop */
        bool stop;
        int efd;
        sd_event_source *source;
        Worker *workers;
        unsigned n;
        _Atomic unsigned in_flight; /* changed on the loop: submitted, not answered; read anywhere */
};

static _Thread_local Worker *current_worker;
static _Thread_local Job *current_job;

void *bus_worker_context(void) {
        return current_worker ? current_worker->context : NULL;
}

void bus_worker_on_loop(void (*fn)(void *arg), void *arg, void (*free_fn)(void *arg)) {
        LoopWork *w = current_job ? calloc(1, sizeof *w) : NULL;
        if (!w) {
                /* On the loop already (or out of memory: better now than never). */
                fn(arg);
                if (free_fn)
                        free_fn(arg);
                return;
        }
        *w = (LoopWork) { .fn = fn, .arg = arg, .free_fn = free_fn };
        *current_job->loop_tail = w;
        current_job->loop_tail = &w->next;
}

static void job_free(Job *j) {
        while (j->loop_head) {
                LoopWork *w = j->loop_head;
                j->loop_head = w->next;
                if (w->free_fn)
                        w->free_fn(w->arg);
                free(w);
        }
        sd_bus_message_unref(j->reply);
        sd_bus_message_unref(j->m);
        free(j->msg);
        free(j);
}

static void *worker_main(void *userdata) {
        Worker *me = userdata;
        BusWorkers *p = me->pool;
        current_worker = me;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (!p->stop && !p->queue)
                        pthread_cond_wait(&p->cond, &p->lock);
                if (p->stop)
                        break;
                Job *j = p->queue;
                p->queue = j->next;
                if (!p->queue)
                        p->queue_tail = &p->queue;
                j->next = NULL;
                pthread_mutex_unlock(&p->lock);

                current_job = j;
                j->r = j->meth->handler(j->m, j->userdata, j->reply, &j->msg);
                current_job = NULL;

                pthread_mutex_lock(&p->lock);
                *p->done_tail = j;
                p->done_tail = &j->next;
                (void) eventfd_write(p->efd, 1);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

unsigned bus_workers_in_flight(BusWorkers *p) {
        return p ? p->in_flight : 0;
}

/* On the loop: the queued loop work of a finished call, then its answer. */
static void job_answer(BusWorkers *p, Job *j, bool loop_work) {
        const char *member = sd_bus_message_get_member(j->m);
        int r;
        for (LoopWork *w = j->loop_head; loop_work && w; w = w->next)
                w->fn(w->arg);
        if (j->r < 0) {
                log_debug("%s failed: %s", strna(member), j->msg ? j->msg : strerror(-j->r));
                r = bus_reply_error(j->m, j->r, j->msg);
        } else {
                r = sd_bus_send(NULL, j->reply, NULL);
                /* On the wire now, before the work it triggers (see bus.c). */
                if (r >= 0)
                        (void) sd_bus_flush(sd_bus_message_get_bus(j->m));
        }
        if (r < 0)
                log_debug("%s: reply failed: %s", strna(member), strerror(-r));
        bus_call_observed(member, j->r < 0 ? j->r : 0, j->start);
        job_free(j);
        p->in_flight--;
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        BusWorkers *p = userdata;
        eventfd_t v;
        (void) eventfd_read(p->efd, &v);
        pthread_mutex_lock(&p->lock);
        Job *list = p->done;
        p->done = NULL;
        p->done_tail = &p->done;
        pthread_mutex_unlock(&p->lock);
        while (list) {
                Job *j = list;
                list = j->next;
                job_answer(p, j, true);
        }
        return 0;
}

int bus_workers_submit(BusWorkers *p, sd_bus_message *m, sd_bus_message *reply, const BusMethod *meth,
                       void *userdata) {
        Job *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->m = sd_bus_message_ref(m);
        j->reply = sd_bus_message_ref(reply);
        j->meth = meth;
        j->userdata = userdata;
        j->loop_tail = &j->loop_head;
        j->start = thread_monotonic_usec();
        pthread_mutex_lock(&p->lock);
        *p->queue_tail = j;
        p->queue_tail = &j->next;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        p->in_flight++;
        return 0;
}

int bus_workers_new(sd_event *event, void **contexts, unsigned n, BusWorkers **ret) {
        BusWorkers *p = calloc(1, sizeof *p);
        int r;
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->queue_tail = &p->queue;
        p->done_tail = &p->done;
        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        p->n = 0; /* counts started threads until all are */
        p->workers = calloc(n ? n : 1, sizeof *p->workers);
        if (p->efd < 0 || !p->workers) {
                r = p->efd < 0 ? -errno : -ENOMEM;
                bus_workers_free(p);
                return r;
        }
        if ((r = sd_event_add_io(event, &p->source, p->efd, EPOLLIN, on_done, p)) < 0) {
                bus_workers_free(p);
                return r;
        }
        for (unsigned i = 0; i < n; i++) {
                p->workers[i] = (Worker) { .pool = p, .context = contexts[i] };
                if ((r = thread_start(&p->workers[i].thread, worker_main, &p->workers[i])) < 0)
                        break;
                p->n++;
        }
        if (r < 0) {
                bus_workers_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

BusWorkers *bus_workers_free(BusWorkers *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n; i++)
                pthread_join(p->workers[i].thread, NULL);
        /* Finished: answered (their loop work is skipped, the daemon is going
         * away). Not started: Unavailable. */
        while (p->done) {
                Job *j = p->done;
                p->done = j->next;
                job_answer(p, j, false);
        }
        while (p->queue) {
                Job *j = p->queue;
                p->queue = j->next;
                j->r = -EHOSTUNREACH;
                free(j->msg);
                j->msg = strdup("drbdd is shutting down");
                job_answer(p, j, false);
        }
        sd_event_source_disable_unref(p->source);
        if (p->efd >= 0)
                close(p->efd);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p->workers);
        free(p);
        return NULL;
}
