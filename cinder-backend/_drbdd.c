/* _drbdd: Python binding of the drbdd client library for the Cinder driver.
 *
 * One type, _drbdd.Client(address=None, timeout=120.0), with
 * .call(method, signature, args, path=None, timeout=0) -> list. Arguments are plain
 * Python values (dict, list/tuple, str, int, float, bool, None) converted to
 * JSON and marshalled by the D-Bus signature; the reply comes back as a list
 * of Python values. The D-Bus round trip runs without the GIL, so Cinder's
 * eventlet.tpool threads really run in parallel. A failing call raises
 * _drbdd.Error (an OSError): .errno is the positive errno from client.h,
 * .strerror drbdd's message, .dbus_name the D-Bus error name. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>

#include "drbdd/client/client.h"

#define MAX_DEPTH 32

static PyObject *error_type;

typedef struct {
        PyObject_HEAD
        DrbddClient *client;
        /* sd-bus connections are not thread-safe: one call at a time per
         * Client. Taken with the GIL released, so waiting never blocks the
         * interpreter. Callers wanting parallel calls use several Clients. */
        pthread_mutex_t lock;
        uint64_t timeout_usec;
} ClientObject;

/* Raises _drbdd.Error(errno, message) with dbus_name set. r is negative. */
static PyObject *raise_error(int r, const char *msg, const char *name) {
        PyObject *exc = PyObject_CallFunction(error_type, "(is)", -r, msg ? msg : strerror(-r));
        if (!exc)
                return NULL;
        PyObject *n = name ? PyUnicode_FromString(name) : Py_NewRef(Py_None);
        if (!n || PyObject_SetAttrString(exc, "dbus_name", n) < 0) {
                Py_XDECREF(n);
                Py_DECREF(exc);
                return NULL;
        }
        Py_DECREF(n);
        PyErr_SetObject(error_type, exc);
        Py_DECREF(exc);
        return NULL;
}

/* Returns a new JSON value for o, or NULL with a Python exception set. */
static json_t *to_json(PyObject *o, int depth) {
        if (depth > MAX_DEPTH) {
                PyErr_SetString(PyExc_ValueError, "arguments nested too deeply");
                return NULL;
        }
        if (o == Py_None)
                return json_null();
        if (PyBool_Check(o))
                return json_boolean(o == Py_True);
        if (PyLong_Check(o)) {
                int overflow = 0;
                long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
                if (v == -1 && PyErr_Occurred())
                        return NULL;
                if (overflow) {
                        PyErr_SetString(PyExc_OverflowError, "integer does not fit 64 bits signed");
                        return NULL;
                }
                return json_integer(v);
        }
        if (PyFloat_Check(o))
                return json_real(PyFloat_AsDouble(o));
        if (PyUnicode_Check(o)) {
                Py_ssize_t len;
                const char *s = PyUnicode_AsUTF8AndSize(o, &len);
                return s ? json_stringn(s, (size_t)len) : NULL;
        }
        if (PyList_Check(o) || PyTuple_Check(o)) {
                PyObject *seq = PySequence_Fast(o, "expected a sequence");
                if (!seq)
                        return NULL;
                json_t *a = json_array();
                Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
                for (Py_ssize_t i = 0; a && i < n; i++) {
                        json_t *v = to_json(PySequence_Fast_GET_ITEM(seq, i), depth + 1);
                        if (!v || json_array_append_new(a, v) < 0) {
                                json_decref(a);
                                a = NULL;
                        }
                }
                Py_DECREF(seq);
                if (!a && !PyErr_Occurred())
                        PyErr_NoMemory();
                return a;
        }
        if (PyDict_Check(o)) {
                json_t *obj = json_object();
                PyObject *k, *v;
                Py_ssize_t pos = 0;
                while (obj && PyDict_Next(o, &pos, &k, &v)) {
                        if (!PyUnicode_Check(k)) {
                                PyErr_SetString(PyExc_TypeError, "dictionary keys must be str");
                                json_decref(obj);
                                return NULL;
                        }
                        const char *key = PyUnicode_AsUTF8(k);
                        json_t *jv = key ? to_json(v, depth + 1) : NULL;
                        if (!jv || json_object_set_new(obj, key, jv) < 0) {
                                json_decref(obj);
                                obj = NULL;
                        }
                }
                if (!obj && !PyErr_Occurred())
                        PyErr_NoMemory();
                return obj;
        }
        PyErr_Format(PyExc_TypeError, "cannot pass %.100s to drbdd", Py_TYPE(o)->tp_name);
        return NULL;
}

/* Returns a new Python object for j, or NULL with an exception set. */
static PyObject *from_json(json_t *j) {
        switch (json_typeof(j)) {
        case JSON_NULL:
                Py_RETURN_NONE;
        case JSON_TRUE:
                Py_RETURN_TRUE;
        case JSON_FALSE:
                Py_RETURN_FALSE;
        case JSON_INTEGER:
                return PyLong_FromLongLong(json_integer_value(j));
        case JSON_REAL:
                return PyFloat_FromDouble(json_real_value(j));
        case JSON_STRING:
                return PyUnicode_FromStringAndSize(json_string_value(j), (Py_ssize_t)json_string_length(j));
        case JSON_ARRAY: {
                PyObject *l = PyList_New((Py_ssize_t)json_array_size(j));
                for (size_t i = 0; l && i < json_array_size(j); i++) {
                        PyObject *v = from_json(json_array_get(j, i));
                        if (!v) {
                                Py_CLEAR(l);
                                break;
                        }
                        PyList_SET_ITEM(l, (Py_ssize_t)i, v);
                }
                return l;
        }
        case JSON_OBJECT: {
                PyObject *d = PyDict_New();
                const char *key;
                json_t *v;
                json_object_foreach(j, key, v) {
                        PyObject *pv = d ? from_json(v) : NULL;
                        if (!pv || PyDict_SetItemString(d, key, pv) < 0) {
                                Py_XDECREF(pv);
                                Py_CLEAR(d);
                                break;
                        }
                        Py_DECREF(pv);
                }
                return d;
        }
        }
        PyErr_SetString(PyExc_ValueError, "unexpected JSON value from drbdd");
        return NULL;
}

static int client_init(ClientObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "address", "timeout", NULL };
        const char *address = NULL;
        double timeout = 120.0;
        DrbddClient *c = NULL;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "|zd:Client", kwlist, &address, &timeout))
                return -1;
        if (!(timeout > 0) || timeout > 86400.0) {
                PyErr_SetString(PyExc_ValueError, "timeout must be in (0, 86400] seconds");
                return -1;
        }
        if (self->client) {
                PyErr_SetString(PyExc_RuntimeError, "Client already initialised");
                return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        r = drbdd_client_open(address, &c);
        Py_END_ALLOW_THREADS
        if (r < 0) {
                raise_error(r, r == -EHOSTUNREACH ? "cannot connect to the D-Bus bus of drbdd" : NULL, NULL);
                return -1;
        }
        self->timeout_usec = (uint64_t)(timeout * 1e6);
        drbdd_client_set_timeout(c, self->timeout_usec);
        self->client = c;
        return 0;
}

static PyObject *client_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
        ClientObject *self = (ClientObject *)type->tp_alloc(type, 0);
        if (self)
                pthread_mutex_init(&self->lock, NULL);
        return (PyObject *)self;
}

static void client_dealloc(ClientObject *self) {
        drbdd_client_free(self->client);
        pthread_mutex_destroy(&self->lock);
        Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *client_call(ClientObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "method", "signature", "args", "path", "timeout", NULL };
        const char *method, *sig, *path = NULL;
        double timeout = 0;
        PyObject *pargs = NULL;
        json_t *jargs = NULL, *ret = NULL;
        char *msg = NULL, *name = NULL;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "ss|Ozd:call", kwlist, &method, &sig, &pargs, &path, &timeout))
                return NULL;
        if (timeout < 0 || timeout > 86400.0) {
                PyErr_SetString(PyExc_ValueError, "timeout must be in (0, 86400] seconds");
                return NULL;
        }
        if (!self->client)
                return raise_error(-ENOTCONN, "Client is closed", NULL);
        if (pargs && pargs != Py_None) {
                if (!PyList_Check(pargs) && !PyTuple_Check(pargs)) {
                        PyErr_SetString(PyExc_TypeError, "args must be a list or tuple");
                        return NULL;
                }
                if (!(jargs = to_json(pargs, 0)))
                        return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&self->lock);
        /* close() may have run while we waited for the lock. */
        if (self->client) {
                if (timeout > 0)
                        drbdd_client_set_timeout(self->client, (uint64_t)(timeout * 1e6));
                r = drbdd_client_call(self->client, path, method, sig, jargs, &ret, &msg, &name);
                drbdd_client_set_timeout(self->client, self->timeout_usec);
        } else
                r = -ENOTCONN;
        pthread_mutex_unlock(&self->lock);
        Py_END_ALLOW_THREADS
        json_decref(jargs);

        PyObject *result;
        if (r == -ENOTCONN && !name)
                result = raise_error(r, "Client is closed", NULL);
        else if (r < 0)
                result = raise_error(r, msg, name);
        else if (ret)
                result = from_json(ret);
        else
                result = PyList_New(0);
        json_decref(ret);
        free(msg);
        free(name);
        return result;
}

static PyObject *client_close(ClientObject *self, PyObject *unused) {
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&self->lock);
        self->client = drbdd_client_free(self->client);
        pthread_mutex_unlock(&self->lock);
        Py_END_ALLOW_THREADS
        Py_RETURN_NONE;
}

static PyMethodDef client_methods[] = {
        { "call", (PyCFunction)(void (*)(void))client_call, METH_VARARGS | METH_KEYWORDS,
          "call(method, signature, args=None, path=None, timeout=0) -> list\n\n"
          "Calls org.drbd.drbdd1.Manager.<method> (or the ResourceDefinition\n"
          "interface of object path) and returns the reply values as a list.\n"
          "timeout (seconds), when > 0, overrides the Client's for this call.\n"
          "Releases the GIL for the D-Bus round trip. Raises _drbdd.Error." },
        { "close", (PyCFunction)client_close, METH_NOARGS, "Closes the bus connection." },
        { NULL, NULL, 0, NULL },
};

static PyTypeObject client_type = {
        PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_drbdd.Client",
        .tp_basicsize = sizeof(ClientObject),
        .tp_flags = Py_TPFLAGS_DEFAULT,
        .tp_doc = "Client(address=None, timeout=120.0): a connection to drbdd.\n\n"
                  "address is a D-Bus address; None uses the system bus\n"
                  "(DBUS_SYSTEM_BUS_ADDRESS is honoured). timeout in seconds.",
        .tp_new = client_new,
        .tp_init = (initproc)client_init,
        .tp_dealloc = (destructor)client_dealloc,
        .tp_methods = client_methods,
};

static struct PyModuleDef module_def = {
        PyModuleDef_HEAD_INIT,
        .m_name = "_drbdd",
        .m_doc = "Binding of the drbdd D-Bus client library (drbdd/client/client.h).",
        .m_size = -1,
};

PyMODINIT_FUNC PyInit__drbdd(void);
PyMODINIT_FUNC PyInit__drbdd(void) {
        if (PyType_Ready(&client_type) < 0)
                return NULL;
        PyObject *m = PyModule_Create(&module_def);
        if (!m)
                return NULL;
        error_type = PyErr_NewExceptionWithDoc("_drbdd.Error",
                                               "A failed drbdd call: errno, strerror (drbdd's message), dbus_name.",
                                               PyExc_OSError, NULL);
        if (!error_type || PyModule_AddObjectRef(m, "Error", error_type) < 0 ||
            PyModule_AddObjectRef(m, "Client", (PyObject *)&client_type) < 0) {
                Py_DECREF(m);
                return NULL;
        }
        return m;
}
