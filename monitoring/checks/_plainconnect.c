/* The connect scanner's hot path in C (monitoring/checks/scanner.py holds the rest).

   Why native: at 10,000 plain connect checks every 2 s, the scanner's Python spent about 10 us
   of user time per check (bench/bench_worker.py: 5% of a core), twice HAProxy's whole user time
   for the same checks; a batched map() over C calls measured no better. Here the timing wheel
   is kept, a slot's connects are started with the GIL released once around their system calls,
   a poll's answers are reset in one pass, and a quiet pass (see
   scanner.py) is stamped and put back on the wheel: Flights.step runs all of it and comes back
   to Python only with what can change a real server's state (failures, the passes of a rise,
   checks the scanner stopped watching), with work queued for the scanner, or at the time
   scanner.py gives it (its next look for expired connects).

   Only plain checks to an address literal are connected here: a check through the forwarding
   path, or to anything inet_pton does not read (a scoped IPv6 address), is handed back when
   due and stays on Python's sockets. scanner.py owns the epoll; this module registers its own
   sockets there and hands back the events of the others. Everything runs on the scanner's one
   thread.

   A socket is not closed after its check but disconnected (connect() to AF_UNSPEC: the kernel
   resets a connection that was made, as SO_LINGER 0 and close() did) and kept as a spare for
   the next connect of its family. Measured on loopback at 5,000 checks a second (a C loop, the
   same listeners as bench/bench_worker.py): 14.1-14.5% of a core with a new socket a check,
   10.2-12.2% with spares, the same resets sent (nstat's TcpOutRsts, one a connect) and nothing
   left half-open on the listeners (ss). What the kernel no longer does for each check is
   allocate and free the socket, its file and its epoll entry. A spare stays in the epoll set,
   disabled: connects are registered EPOLLONESHOT, so the answer that fires disables it, and
   the next connect re-arms it (EPOLL_CTL_MOD) instead of adding it again.

   A disconnected socket's next connect would start its sequence numbers where the last
   connection's left off (the kernel sets them to the old ones plus a window: measured, +65,539
   on loopback, whatever the next real server), where a new socket's are a keyed hash of the
   connection that nobody off the path can guess (RFC 6528). Whoever saw one check, a real
   server among them, could then forge the answer to the next ones of that socket: a SYN-ACK
   that makes a dead real server look alive, a reset that takes a live one out. So a spare's
   sequence number is zeroed in TCP repair mode before it is kept, and connect() draws a new
   one as for a new socket (4 system calls more, 0.2% of a core at 5,000 checks a second,
   measured). Repair mode needs CAP_NET_ADMIN, which the worker has (it runs as root to change
   the IPVS table); without it no spare is kept, and every check has a new socket as before. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READY_AT_ONCE 1024
#define MAX_BOUNDS 64

/* --- Watch: one check on the wheel -------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *token;   /* the real server checked (stamped by a quiet pass) */
    PyObject *sharers; /* the other real servers this check stands for */
    PyObject *address;
    PyObject *path;    /* None: a plain check */
    int port;
    int family;
    int quiet_after;
    int streak;
    double timeout;
    double due;
    char live;
    char once;
    socklen_t addrlen; /* 0: not an address literal; scanner.py connects it */
    union {            /* not a sockaddr_storage: 100 bytes less for each of 10,000 */
        struct sockaddr any;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;
} Watch;

static int
watch_init(Watch *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"token", "sharers", "address", "port", "timeout", "quiet_after",
                            "path", "due", "once", NULL};
    PyObject *token, *sharers, *address, *path;
    int port, quiet_after, once;
    double timeout, due;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOUidiOdp", names, &token, &sharers,
                                     &address, &port, &timeout, &quiet_after, &path, &due,
                                     &once))
        return -1;
    const char *text = PyUnicode_AsUTF8(address);
    if (text == NULL)
        return -1;
    Py_INCREF(token);
    Py_XSETREF(self->token, token);
    Py_INCREF(sharers);
    Py_XSETREF(self->sharers, sharers);
    Py_INCREF(address);
    Py_XSETREF(self->address, address);
    Py_INCREF(path);
    Py_XSETREF(self->path, path);
    self->port = port;
    self->family = strchr(text, ':') ? AF_INET6 : AF_INET; /* as scanner.py decides */
    self->timeout = timeout;
    self->quiet_after = quiet_after;
    self->due = due;
    self->streak = 0;
    self->live = 1;
    self->once = (char)once;
    self->addrlen = 0;
    memset(&self->addr, 0, sizeof self->addr);
    if (port < 0 || port > 65535)
        return 0; /* Python's connect_ex says what is wrong */
    if (self->family == AF_INET) {
        struct sockaddr_in *in = &self->addr.in;
        if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
            in->sin_port = htons((uint16_t)port);
            self->addrlen = sizeof *in;
        }
    } else {
        struct sockaddr_in6 *in6 = &self->addr.in6;
        if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons((uint16_t)port);
            self->addrlen = sizeof *in6;
        }
    }
    return 0;
}

static int
watch_traverse(Watch *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->token);
    Py_VISIT(self->sharers);
    Py_VISIT(self->address);
    Py_VISIT(self->path);
    return 0;
}

static int
watch_clear(Watch *self)
{
    Py_CLEAR(self->token);
    Py_CLEAR(self->sharers);
    Py_CLEAR(self->address);
    Py_CLEAR(self->path);
    return 0;
}

static void
watch_dealloc(Watch *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    watch_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMemberDef watch_members[] = {
    {"token", T_OBJECT_EX, offsetof(Watch, token), 0, NULL},
    {"sharers", T_OBJECT_EX, offsetof(Watch, sharers), 0, NULL},
    {"address", T_OBJECT_EX, offsetof(Watch, address), READONLY, NULL},
    {"path", T_OBJECT_EX, offsetof(Watch, path), READONLY, NULL},
    {"port", T_INT, offsetof(Watch, port), READONLY, NULL},
    {"family", T_INT, offsetof(Watch, family), READONLY, NULL},
    {"quiet_after", T_INT, offsetof(Watch, quiet_after), READONLY, NULL},
    {"streak", T_INT, offsetof(Watch, streak), 0, NULL},
    {"timeout", T_DOUBLE, offsetof(Watch, timeout), READONLY, NULL},
    {"due", T_DOUBLE, offsetof(Watch, due), 0, NULL},
    {"live", T_BOOL, offsetof(Watch, live), 0, NULL},
    {"once", T_BOOL, offsetof(Watch, once), READONLY, NULL},
    {NULL},
};

static PyObject *
watch_native(Watch *self, void *closure)
{
    return PyBool_FromLong(self->addrlen != 0 && self->path == Py_None);
}

static PyGetSetDef watch_getset[] = {
    {"native", (getter)watch_native, NULL,
     "Whether this module connects the check (a plain check to an address literal).", NULL},
    {NULL},
};

static PyType_Slot watch_slots[] = {
    {Py_tp_doc, "One check on the scanner's wheel, or in flight (never both)."},
    {Py_tp_init, watch_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_traverse, watch_traverse},
    {Py_tp_clear, watch_clear},
    {Py_tp_dealloc, watch_dealloc},
    {Py_tp_members, watch_members},
    {Py_tp_getset, watch_getset},
    {0, NULL},
};

static PyType_Spec watch_spec = {
    .name = "monitoring.checks._plainconnect.Watch",
    .basicsize = sizeof(Watch),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = watch_slots,
};

/* --- Flights: the wheel, and this module's connects in flight by file descriptor ----------- */

typedef struct {
    Watch *watch; /* a strong reference while in flight */
    double started;
    char spare;   /* disconnected, kept for the next connect (Flights.spare) */
} Flight;

/* Spares kept per address family: more than the connects in flight at once at 10,000 checks
   every 2 s on loopback (about 60); a socket beyond them is closed. */
#define SPARE_MAX 256

/* A hashed timing wheel: slot n's watches are in bucket n % WHEEL_SIZE with their slot number;
   a watch due more than WHEEL_SIZE slots ahead stays in its bucket until its turn. */
#define WHEEL_SIZE 1024

typedef struct {
    Watch *watch; /* a strong reference while on the wheel */
    long long slot;
} Due;

typedef struct {
    Due *items;
    int count, capacity;
} Bucket;

typedef struct {
    PyObject_HEAD
    int epfd; /* scanner.py's epoll: not ours to close */
    PyTypeObject *watch_type;
    double slot_seconds;
    long long next_slot; /* the next slot of the wheel to run */
    Py_ssize_t on_wheel;
    Bucket wheel[WHEEL_SIZE];
    Flight *table;
    int size;
    int in_flight;
    Watch **batch; /* scratch for one launch */
    Py_ssize_t batch_capacity;
    PyObject *lags; /* None, or a list-like whose append() takes how late each watch started */
    int spare[2][SPARE_MAX]; /* disconnected sockets, IPv4 then IPv6, last kept first reused */
    int spares[2];
    char no_spares; /* repair mode refused (no CAP_NET_ADMIN): a new socket a check */
    PyObject *name_check, *name_latency; /* what a quiet pass stamps (stamp()) */
} Flights;

static const int ZERO = 0;
static const struct linger RESET_ON_CLOSE = {1, 0};

/* Closed with a reset if it is connected (SO_LINGER 0), as a check that is not kept ends. */
static void
close_with_reset(int fd)
{
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &RESET_ON_CLOSE, sizeof RESET_ON_CLOSE);
    close(fd);
}

static double
monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of Python's time.monotonic() */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
flights_init(Flights *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"epoll_fd", "watch_type", "slot", NULL};
    int epfd;
    PyObject *watch_type;
    double slot;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iO!d", names, &epfd, &PyType_Type,
                                     &watch_type, &slot))
        return -1;
    if (slot <= 0) {
        PyErr_SetString(PyExc_ValueError, "the slot must be positive");
        return -1;
    }
    self->epfd = epfd;
    Py_INCREF(watch_type);
    Py_XSETREF(self->watch_type, (PyTypeObject *)watch_type);
    self->slot_seconds = slot;
    self->next_slot = (long long)(monotonic() / slot);
    Py_XSETREF(self->name_check, PyUnicode_InternFromString("last_check"));
    Py_XSETREF(self->name_latency, PyUnicode_InternFromString("latency"));
    if (self->name_check == NULL || self->name_latency == NULL)
        return -1;
    return 0;
}

static int
family_index(int family)
{
    return family == AF_INET6;
}

/* A disconnected socket's sequence number zeroed, so that its next connect draws a new one
   (see the top of this file); 0, or -errno. */
static int
fresh_sequence(int fd)
{
    static const int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF_NO_WP, queue = TCP_SEND_QUEUE;
    static const unsigned int zero = 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) < 0)
        return -errno;
    int rc = 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &zero, sizeof zero) < 0)
        rc = -errno;
    /* Still in repair mode, a connect would send nothing: the caller closes it. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off) < 0)
        rc = -errno;
    return rc;
}

/* After a check (fd has its table entry): disconnected, which resets a connection that was
   made, given a fresh sequence number and kept as a spare; or, with SPARE_MAX kept or if any
   of that fails, closed (with a reset if it is still connected). Needs no GIL. */
static void
release_socket(Flights *self, int fd, int family)
{
    static const struct sockaddr unspecified = {.sa_family = AF_UNSPEC};
    int *count = &self->spares[family_index(family)];
    if (self->no_spares || *count >= SPARE_MAX ||
        connect(fd, &unspecified, sizeof unspecified) < 0) {
        close_with_reset(fd);
        return;
    }
    int fresh = fresh_sequence(fd);
    if (fresh < 0) {
        if (fresh == -EPERM)
            self->no_spares = 1;
        close(fd); /* disconnected: nothing more is sent */
        return;
    }
    self->spare[family_index(family)][(*count)++] = fd;
    self->table[fd].spare = 1;
}

static void
close_spares(Flights *self)
{
    for (int f = 0; f < 2; f++) {
        while (self->spares[f] > 0) {
            int fd = self->spare[f][--self->spares[f]];
            self->table[fd].spare = 0;
            close(fd);
        }
    }
}

static int
flights_grow(Flights *self, int fd)
{
    if (fd < self->size)
        return 0;
    int size = self->size ? self->size : 1024;
    while (size <= fd)
        size *= 2;
    Flight *table = PyMem_Realloc(self->table, (size_t)size * sizeof(Flight));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(table + self->size, 0, (size_t)(size - self->size) * sizeof(Flight));
    self->table = table;
    self->size = size;
    return 0;
}

static int
batch_room(Flights *self, Py_ssize_t count)
{
    if (count <= self->batch_capacity)
        return 0;
    Py_ssize_t capacity = self->batch_capacity ? self->batch_capacity : 256;
    while (capacity < count)
        capacity *= 2;
    Watch **batch = PyMem_Realloc(self->batch, (size_t)capacity * sizeof(Watch *));
    if (batch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->batch = batch;
    self->batch_capacity = capacity;
    return 0;
}

/* On the wheel one interval's slot after its `due` (never a slot already run). */
static int
put_watch(Flights *self, Watch *watch)
{
    long long slot = (long long)(watch->due / self->slot_seconds) + 1;
    if (slot < self->next_slot)
        slot = self->next_slot;
    Bucket *bucket = &self->wheel[slot & (WHEEL_SIZE - 1)];
    if (bucket->count == bucket->capacity) {
        int capacity = bucket->capacity ? bucket->capacity * 2 : 16;
        Due *items = PyMem_Realloc(bucket->items, (size_t)capacity * sizeof(Due));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        bucket->items = items;
        bucket->capacity = capacity;
    }
    Py_INCREF(watch);
    bucket->items[bucket->count].watch = watch;
    bucket->items[bucket->count].slot = slot;
    bucket->count++;
    self->on_wheel++;
    return 0;
}

/* (watch, started, ok, code, latency): code is an errno, negative when no socket could be
   opened, 0 with ok False when the connection was closed without one. */
static int
append_result(PyObject *list, Watch *watch, double started, int ok, int code, double latency)
{
    PyObject *item = Py_BuildValue("(OdNid)", (PyObject *)watch, started, PyBool_FromLong(ok),
                                   code, latency);
    if (item == NULL)
        return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

typedef struct {
    int fd;
    int code; /* 0: in progress (registered) or connected at once */
    char connected;
} Start;

/* Start the connects of `count` plain watches (borrowed: the caller keeps them alive); those
   that did not wait go to `at_once`. */
static int
start_connects(Flights *self, Watch **mine, Py_ssize_t count, double now, PyObject *at_once)
{
    if (count == 0)
        return 0;
    Start *starts = PyMem_Malloc((size_t)count * sizeof(Start));
    if (starts == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* The system calls, without the GIL: the watches' C fields are read only here, and only
       the scanner's thread writes them. */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        Watch *watch = mine[i];
        Start *start = &starts[i];
        int family = family_index(watch->family);
        int reused = self->spares[family] > 0;
        start->connected = 0;
        start->code = 0;
        if (reused) {
            start->fd = self->spare[family][--self->spares[family]];
            self->table[start->fd].spare = 0;
        } else {
            start->fd = socket(watch->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (start->fd < 0) {
                start->code = -errno;
                continue;
            }
        }
        /* TCP_QUICKACK off (see scanner.py's docstring), again on a spare: disconnecting
           turned it back on. */
        setsockopt(start->fd, IPPROTO_TCP, TCP_QUICKACK, &ZERO, sizeof ZERO);
        int connected = connect(start->fd, &watch->addr.any, watch->addrlen) == 0;
        if (connected || errno != EINPROGRESS) {
            start->connected = connected;
            start->code = connected ? 0 : errno;
            if (reused) {
                release_socket(self, start->fd, watch->family);
            } else { /* not registered, no table entry yet: not kept */
                close_with_reset(start->fd);
            }
            continue;
        }
        /* Registered after the connect, so that a spare's registration, re-armed, cannot
           fire for the disconnected socket; one that connected meanwhile fires at once. */
        struct epoll_event event = {.events = EPOLLOUT | EPOLLONESHOT, .data.fd = start->fd};
        if (epoll_ctl(self->epfd, reused ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, start->fd, &event) < 0) {
            start->code = -errno;
            close(start->fd);
        }
    }
    Py_END_ALLOW_THREADS
    double after = monotonic();
    int rc = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        Watch *watch = mine[i];
        Start *start = &starts[i];
        int connected = start->connected, code = start->code;
        if (!connected && code == 0) {
            if (flights_grow(self, start->fd) == 0) {
                Py_INCREF(watch);
                self->table[start->fd].watch = watch;
                self->table[start->fd].started = now;
                self->in_flight++;
                continue;
            }
            /* Out of memory: the connect is abandoned and reported as failed. */
            PyErr_Clear();
            close(start->fd);
            code = -ENOMEM;
        }
        if (rc == 0 && append_result(at_once, watch, now, connected, code, after - now) < 0)
            rc = -1; /* the rest are still registered or closed */
    }
    PyMem_Free(starts);
    return rc;
}

/* Sort one watch taken off the wheel or handed in (a borrowed reference): a stopped one is
   dropped, one this module does not connect goes to `others`, a plain one to the batch. */
static int
sort_watch(Flights *self, Watch *watch, PyObject *others, Py_ssize_t *count)
{
    if (!watch->live)
        return 0;
    if (watch->addrlen == 0 || watch->path != Py_None)
        return PyList_Append(others, (PyObject *)watch);
    if (batch_room(self, *count + 1) < 0)
        return -1;
    self->batch[(*count)++] = watch;
    return 0;
}

static PyObject *
flights_launch(Flights *self, PyObject *args)
{
    PyObject *due;
    double now;
    if (!PyArg_ParseTuple(args, "O!d", &PyList_Type, &due, &now))
        return NULL;
    PyObject *others = PyList_New(0), *at_once = PyList_New(0), *result = NULL;
    Py_ssize_t count = 0;
    if (others == NULL || at_once == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(due); i++) {
        PyObject *item = PyList_GET_ITEM(due, i);
        if (!PyObject_TypeCheck(item, self->watch_type)) {
            PyErr_SetString(PyExc_TypeError, "only watches are launched");
            goto done;
        }
        if (sort_watch(self, (Watch *)item, others, &count) < 0)
            goto done;
    }
    /* The list keeps the batch alive. */
    if (start_connects(self, self->batch, count, now, at_once) < 0)
        goto done;
    result = Py_BuildValue("(nOO)", count, others, at_once);
done:
    Py_XDECREF(others);
    Py_XDECREF(at_once);
    return result;
}

static PyObject *
flights_put(Flights *self, PyObject *watch)
{
    if (!PyObject_TypeCheck(watch, self->watch_type)) {
        PyErr_SetString(PyExc_TypeError, "only watches go on the wheel");
        return NULL;
    }
    if (put_watch(self, (Watch *)watch) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The slots of the wheel up to `now`, started: the count of connects started. */
static Py_ssize_t
launch_due(Flights *self, double now, PyObject *others, PyObject *at_once)
{
    long long last = (long long)(now / self->slot_seconds);
    Py_ssize_t count = 0;
    int failed = 0;
    /* Taken off the wheel into the batch; the wheel's references are dropped after the
       connects are started (the table takes its own). */
    while (self->next_slot <= last) {
        long long slot = self->next_slot++;
        Bucket *bucket = &self->wheel[slot & (WHEEL_SIZE - 1)];
        int kept = 0;
        for (int i = 0; i < bucket->count; i++) {
            Due item = bucket->items[i];
            if (item.slot != slot) {
                bucket->items[kept++] = item;
                continue;
            }
            self->on_wheel--;
            if (failed) {
                Py_DECREF(item.watch);
                continue;
            }
            if (item.watch->live && self->lags != NULL && self->lags != Py_None) {
                /* A measure only: if it cannot be taken, it stops, and the checks go on. */
                PyObject *lag = PyFloat_FromDouble(now - item.watch->due);
                PyObject *done = lag ? PyObject_CallMethod(self->lags, "append", "O", lag) : NULL;
                Py_XDECREF(lag);
                if (done == NULL) {
                    PyErr_Clear();
                    Py_CLEAR(self->lags);
                }
                Py_XDECREF(done);
            }
            Py_ssize_t batched = count;
            failed = sort_watch(self, item.watch, others, &count) < 0;
            if (count == batched)
                Py_DECREF(item.watch); /* stopped, or in `others` (which holds its own) */
            /* else the wheel's reference moved to the batch */
        }
        bucket->count = kept;
        if (kept == 0) {
            /* Emptied as the wheel turns: kept, every bucket would hold the largest slot's
               room (1 MB at 10,000 every 2 s, measured). */
            PyMem_Free(bucket->items);
            bucket->items = NULL;
            bucket->capacity = 0;
        }
    }
    if (!failed && start_connects(self, self->batch, count, now, at_once) < 0)
        failed = 1;
    for (Py_ssize_t i = 0; i < count; i++)
        Py_DECREF(self->batch[i]);
    return failed ? -1 : count;
}

/* Set token.last_check and token.latency, and the sharers', as a quiet pass does. */
static int
stamp(Watch *watch, PyObject *name_check, PyObject *name_latency, PyObject *wall,
      PyObject *latency)
{
    if (watch->token != NULL) {
        if (PyObject_SetAttr(watch->token, name_check, wall) < 0 ||
            PyObject_SetAttr(watch->token, name_latency, latency) < 0)
            return -1;
    }
    if (watch->sharers == NULL)
        return 0;
    PyObject *sharers = PySequence_Fast(watch->sharers, "sharers must be a sequence");
    if (sharers == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(sharers);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *server = PySequence_Fast_GET_ITEM(sharers, i);
        if (PyObject_SetAttr(server, name_check, wall) < 0 ||
            PyObject_SetAttr(server, name_latency, latency) < 0) {
            Py_DECREF(sharers);
            return -1;
        }
    }
    Py_DECREF(sharers);
    return 0;
}

/* Latencies counted as metrics.counters' histogram counts them (bisect_left on its bounds),
   added to its counts and sum once per poll. */
typedef struct {
    PyObject *histogram;
    Py_ssize_t n;
    double bounds[MAX_BOUNDS];
    long long counts[MAX_BOUNDS + 1];
    double sum;
    int used;
} Tally;

static int
tally_open(Tally *tally, PyObject *histogram)
{
    tally->histogram = histogram;
    tally->n = 0;
    tally->sum = 0.0;
    tally->used = 0;
    if (histogram == Py_None)
        return 0;
    PyObject *bounds = PyObject_GetAttrString(histogram, "bounds");
    if (bounds == NULL)
        return -1;
    PyObject *fast = PySequence_Fast(bounds, "bounds must be a sequence");
    Py_DECREF(bounds);
    if (fast == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > MAX_BOUNDS) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "too many histogram bounds");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        tally->bounds[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if (tally->bounds[i] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    tally->n = n;
    memset(tally->counts, 0, sizeof tally->counts);
    return 0;
}

static void
tally_add(Tally *tally, double latency)
{
    if (tally->histogram == Py_None)
        return;
    Py_ssize_t low = 0, high = tally->n;
    while (low < high) {
        Py_ssize_t mid = (low + high) / 2;
        if (tally->bounds[mid] < latency)
            low = mid + 1;
        else
            high = mid;
    }
    tally->counts[low]++;
    tally->sum += latency;
    tally->used = 1;
}

static int
tally_close(Tally *tally)
{
    if (tally->histogram == Py_None || !tally->used)
        return 0;
    PyObject *counts = PyObject_GetAttrString(tally->histogram, "counts");
    if (counts == NULL)
        return -1;
    for (Py_ssize_t i = 0; i <= tally->n; i++) {
        if (!tally->counts[i])
            continue;
        PyObject *old = PySequence_GetItem(counts, i);
        if (old == NULL)
            goto fail;
        PyObject *add = PyLong_FromLongLong(tally->counts[i]);
        PyObject *sum = add ? PyNumber_Add(old, add) : NULL;
        Py_DECREF(old);
        Py_XDECREF(add);
        if (sum == NULL || PySequence_SetItem(counts, i, sum) < 0) {
            Py_XDECREF(sum);
            goto fail;
        }
        Py_DECREF(sum);
    }
    Py_DECREF(counts);
    PyObject *old = PyObject_GetAttrString(tally->histogram, "sum");
    if (old == NULL)
        return -1;
    PyObject *add = PyFloat_FromDouble(tally->sum);
    PyObject *sum = add ? PyNumber_Add(old, add) : NULL;
    Py_DECREF(old);
    Py_XDECREF(add);
    if (sum == NULL)
        return -1;
    int rc = PyObject_SetAttrString(tally->histogram, "sum", sum);
    Py_DECREF(sum);
    return rc;
fail:
    Py_DECREF(counts);
    return -1;
}

typedef struct {
    int fd;
    uint32_t events;
    int code;
    char mine;
    char spare; /* a spare's: none is expected (its registration is disabled); dropped */
    char ok;
} Answer;

/* One poll: quiet passes stamped, counted and back on the wheel here; the events of sockets
   not ours to `fds`, the rest of ours to `reported`. Returns the number of events, -1 on
   error. */
static int
poll_once(Flights *self, double timeout, PyObject *clock, PyObject *histogram, PyObject *fds,
          PyObject *reported)
{
    struct epoll_event events[READY_AT_ONCE];
    Answer answers[READY_AT_ONCE];
    Watch *watches[READY_AT_ONCE];
    double started[READY_AT_ONCE];
    int wait_ms = timeout > 0 ? (int)ceil(timeout * 1000.0) : 0;
    int n, wait_errno;
    double now;
    /* The wait and the closes, without the GIL. */
    Py_BEGIN_ALLOW_THREADS
    n = epoll_wait(self->epfd, events, READY_AT_ONCE, wait_ms);
    wait_errno = errno;
    now = monotonic();
    for (int i = 0; i < n; i++) {
        Answer *answer = &answers[i];
        answer->fd = events[i].data.fd;
        answer->events = events[i].events;
        answer->code = 0;
        answer->ok = 0;
        int known = answer->fd >= 0 && answer->fd < self->size;
        answer->mine = known && self->table[answer->fd].watch != NULL;
        answer->spare = known && !answer->mine && self->table[answer->fd].spare;
        if (!answer->mine)
            continue;
        if (answer->events & (EPOLLERR | EPOLLHUP)) {
            socklen_t len = sizeof answer->code;
            if (getsockopt(answer->fd, SOL_SOCKET, SO_ERROR, &answer->code, &len) < 0)
                answer->code = errno;
        } else {
            answer->ok = 1;
        }
        release_socket(self, answer->fd, self->table[answer->fd].watch->family);
    }
    Py_END_ALLOW_THREADS
    if (n < 0) {
        if (wait_errno != EINTR) {
            errno = wait_errno;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        return 0;
    }
    /* Every answer of ours is taken out of the table before anything can fail, so that an
       error below leaves no closed descriptor in it. */
    for (int i = 0; i < n; i++) {
        watches[i] = NULL;
        if (!answers[i].mine)
            continue;
        Flight *flight = &self->table[answers[i].fd];
        watches[i] = flight->watch;
        started[i] = flight->started;
        flight->watch = NULL;
        self->in_flight--;
    }
    PyObject *wall = NULL;
    Tally tally;
    int tally_ready = 0, rc = -1;
    for (int i = 0; i < n; i++) {
        Answer *answer = &answers[i];
        if (answer->spare)
            continue;
        if (!answer->mine) {
            PyObject *item = Py_BuildValue("(iI)", answer->fd, answer->events);
            if (item == NULL || PyList_Append(fds, item) < 0) {
                Py_XDECREF(item);
                goto done;
            }
            Py_DECREF(item);
            continue;
        }
        Watch *watch = watches[i];
        double latency = now - started[i];
        int streak = watch->streak + 1;
        if (!answer->ok || streak <= watch->quiet_after || !watch->live) {
            if (append_result(reported, watch, started[i], answer->ok, answer->code, latency) < 0)
                goto done;
            continue;
        }
        /* A quiet pass: stamped, counted and back on the wheel. */
        if (wall == NULL) {
            wall = PyObject_CallNoArgs(clock);
            if (wall == NULL || tally_open(&tally, histogram) < 0)
                goto done;
            tally_ready = 1;
        }
        watch->streak = streak;
        PyObject *latency_object = PyFloat_FromDouble(latency);
        if (latency_object == NULL)
            goto done;
        int stamped = stamp(watch, self->name_check, self->name_latency, wall, latency_object);
        Py_DECREF(latency_object);
        if (stamped < 0)
            goto done;
        tally_add(&tally, latency);
        double next = watch->due + watch->timeout;
        watch->due = next > now ? next : now;
        if (put_watch(self, watch) < 0)
            goto done;
    }
    rc = n;
done:
    if (tally_ready) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        if (tally_close(&tally) < 0 && type == NULL) {
            PyErr_Fetch(&type, &value, &traceback);
            rc = -1;
        }
        PyErr_Restore(type, value, traceback);
    }
    for (int i = 0; i < n; i++)
        Py_XDECREF(watches[i]);
    Py_XDECREF(wall);
    return rc;
}

static PyObject *
flights_step(Flights *self, PyObject *args)
{
    PyObject *queue, *clock, *histogram;
    double until;
    if (!PyArg_ParseTuple(args, "OOOd", &queue, &clock, &histogram, &until))
        return NULL;
    PyObject *others = PyList_New(0), *fds = PyList_New(0), *reported = PyList_New(0);
    PyObject *at_once = PyList_New(0), *result = NULL;
    Py_ssize_t started = 0;
    int polled = 0; /* the last iteration ended with a poll that was not full */
    if (others == NULL || fds == NULL || reported == NULL || at_once == NULL)
        goto done;
    for (;;) {
        double now = monotonic();
        Py_ssize_t count = launch_due(self, now, others, at_once);
        if (count < 0)
            goto done;
        started += count;
        Py_ssize_t queued = PyObject_Size(queue);
        if (queued < 0)
            goto done;
        int back = PyList_GET_SIZE(others) || PyList_GET_SIZE(fds) ||
                   PyList_GET_SIZE(reported) || PyList_GET_SIZE(at_once) || queued ||
                   now >= until;
        /* Until the next slot is due (or `until`). Every step polls before it comes back, and
           a full poll is followed by another at once: after the thread was held up, thousands
           may be ready, and those left in the kernel would be taken for timed out by the
           expiry that follows. (Polled already: again would hand back the same events of
           sockets not ours.) */
        if (back && polled)
            break;
        double wait = 0.0;
        if (!back) {
            wait = (double)self->next_slot * self->slot_seconds - now;
            if (wait > until - now)
                wait = until - now;
            if (wait > self->slot_seconds)
                wait = self->slot_seconds;
        }
        int answered;
        do {
            answered = poll_once(self, wait, clock, histogram, fds, reported);
            if (answered < 0)
                goto done;
            wait = 0;
        } while (answered == READY_AT_ONCE);
        polled = 1;
        if (back)
            break;
    }
    result = Py_BuildValue("(nOOOO)", started, others, fds, reported, at_once);
done:
    Py_XDECREF(others);
    Py_XDECREF(fds);
    Py_XDECREF(reported);
    Py_XDECREF(at_once);
    return result;
}

static PyObject *
flights_expired(Flights *self, PyObject *args)
{
    double now;
    if (!PyArg_ParseTuple(args, "d", &now))
        return NULL;
    PyObject *expired = PyList_New(0);
    if (expired == NULL)
        return NULL;
    for (int fd = 0; fd < self->size && self->in_flight > 0; fd++) {
        Flight *flight = &self->table[fd];
        Watch *watch = flight->watch;
        if (watch == NULL || flight->started + watch->timeout > now)
            continue;
        close(fd); /* not kept: its registration is still armed */
        flight->watch = NULL;
        self->in_flight--;
        PyObject *item = Py_BuildValue("(Od)", (PyObject *)watch, flight->started);
        Py_DECREF(watch);
        if (item == NULL || PyList_Append(expired, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(expired);
            return NULL;
        }
        Py_DECREF(item);
    }
    return expired;
}

static void
flights_close_all(Flights *self)
{
    for (int fd = 0; fd < self->size; fd++) {
        Watch *watch = self->table[fd].watch;
        if (watch == NULL)
            continue;
        close(fd);
        self->table[fd].watch = NULL;
        Py_DECREF(watch);
    }
    self->in_flight = 0;
    close_spares(self);
    for (int b = 0; b < WHEEL_SIZE; b++) {
        Bucket *bucket = &self->wheel[b];
        int count = bucket->count;
        bucket->count = 0;
        for (int i = 0; i < count; i++)
            Py_DECREF(bucket->items[i].watch);
    }
    self->on_wheel = 0;
}

static PyObject *
flights_close(Flights *self, PyObject *unused)
{
    flights_close_all(self);
    Py_RETURN_NONE;
}

static PyObject *
flights_len(Flights *self, PyObject *unused)
{
    return PyLong_FromLong(self->in_flight);
}

static PyObject *
flights_spare(Flights *self, PyObject *unused)
{
    return PyLong_FromLong(self->spares[0] + self->spares[1]);
}

static PyObject *
flights_keeps_spares(Flights *self, PyObject *unused)
{
    return PyBool_FromLong(!self->no_spares);
}

static PyObject *
flights_wheel_len(Flights *self, PyObject *unused)
{
    return PyLong_FromSsize_t(self->on_wheel);
}

static int
flights_traverse(Flights *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->watch_type);
    Py_VISIT(self->lags);
    for (int fd = 0; fd < self->size; fd++)
        Py_VISIT(self->table[fd].watch);
    for (int b = 0; b < WHEEL_SIZE; b++) {
        for (int i = 0; i < self->wheel[b].count; i++)
            Py_VISIT(self->wheel[b].items[i].watch);
    }
    return 0;
}

static int
flights_clear(Flights *self)
{
    flights_close_all(self);
    Py_CLEAR(self->watch_type);
    Py_CLEAR(self->lags);
    Py_CLEAR(self->name_check);
    Py_CLEAR(self->name_latency);
    return 0;
}

static void
flights_dealloc(Flights *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    flights_clear(self);
    PyMem_Free(self->table);
    for (int b = 0; b < WHEEL_SIZE; b++)
        PyMem_Free(self->wheel[b].items);
    PyMem_Free(self->batch);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMethodDef flights_methods[] = {
    {"put", (PyCFunction)flights_put, METH_O,
     "put(watch): on the wheel, at the slot after its `due` (monotonic seconds)."},
    {"step", (PyCFunction)flights_step, METH_VARARGS,
     "step(queue, clock, histogram, until) -> (started, others, fds, reported, at_once): run "
     "the wheel and answer connects, quiet passes handled here, until something is for "
     "scanner.py or the monotonic `until`. `others`: watches due that this module does not "
     "connect; `fds`: (fd, events) of sockets not ours; `reported` and `at_once`: "
     "(watch, started, ok, code, latency) of ours that are not quiet."},
    {"launch", (PyCFunction)flights_launch, METH_VARARGS,
     "launch(watches: list, now) -> (started, others, at_once): start these checks now, as "
     "step starts the wheel's."},
    {"expired", (PyCFunction)flights_expired, METH_VARARGS,
     "expired(now) -> [(watch, started)]: connects past their timeout, closed."},
    {"close", (PyCFunction)flights_close, METH_NOARGS,
     "Close every connect in flight and every spare socket, and empty the wheel."},
    {"spare", (PyCFunction)flights_spare, METH_NOARGS,
     "How many disconnected sockets are kept for the next connects."},
    {"keeps_spares", (PyCFunction)flights_keeps_spares, METH_NOARGS,
     "False once TCP repair mode was refused (no CAP_NET_ADMIN): no socket is kept then."},
    {"in_flight", (PyCFunction)flights_len, METH_NOARGS, "How many connects are in flight."},
    {"on_wheel", (PyCFunction)flights_wheel_len, METH_NOARGS, "How many watches are waiting."},
    {NULL},
};

static PyMemberDef flights_members[] = {
    {"lags", T_OBJECT, offsetof(Flights, lags), 0,
     "None, or where each watch's start lag (seconds after it was due) is appended: "
     "bench/bench_worker.py's measure."},
    {NULL},
};

static PyType_Slot flights_slots[] = {
    {Py_tp_members, flights_members},
    {Py_tp_doc, "Flights(epoll_fd, watch_type, slot): the wheel and the plain connects in flight."},
    {Py_tp_init, flights_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_traverse, flights_traverse},
    {Py_tp_clear, flights_clear},
    {Py_tp_dealloc, flights_dealloc},
    {Py_tp_methods, flights_methods},
    {0, NULL},
};

static PyType_Spec flights_spec = {
    .name = "monitoring.checks._plainconnect.Flights",
    .basicsize = sizeof(Flights),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = flights_slots,
};

static int
module_exec(PyObject *module)
{
    PyObject *watch = PyType_FromModuleAndSpec(module, &watch_spec, NULL);
    if (watch == NULL)
        return -1;
    if (PyModule_AddObject(module, "Watch", watch) < 0) {
        Py_DECREF(watch);
        return -1;
    }
    PyObject *flights = PyType_FromModuleAndSpec(module, &flights_spec, NULL);
    if (flights == NULL)
        return -1;
    if (PyModule_AddObject(module, "Flights", flights) < 0) {
        Py_DECREF(flights);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "monitoring.checks._plainconnect",
    .m_doc = "The connect scanner's plain checks: started, answered and expired in C.",
    .m_size = 0,
    .m_slots = module_slots,
};

PyMODINIT_FUNC
PyInit__plainconnect(void)
{
    return PyModuleDef_Init(&module_def);
}
