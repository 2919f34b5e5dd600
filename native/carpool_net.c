/*
 * carpool_net: the small native part of carpool.
 *
 * Node cannot open raw IP sockets, AF_PACKET sockets or netlink sockets, and its AF_UNIX
 * support has no datagram client. This addon opens those sockets, moves bytes and reads a
 * few kernel facts. Packet building and parsing is TypeScript's job (src/protocol, src/net).
 *
 * Rules kept here:
 *  - Everything runs on the JS thread. Sockets are non-blocking; receive is event driven
 *    with uv_poll on the Node loop. No threads, no busy loops, no blocking calls (the only
 *    wait is a poll() of at most 100 ms for a netlink ACK the kernel normally has already
 *    queued inside sendmsg()).
 *  - Every fd the addon hands out is registered per environment; functions that take an
 *    fd only accept registered fds of the right kind (EBADF otherwise), so a double close
 *    can never close an unrelated descriptor that reused the number.
 *  - Runtime send failures (ENOBUFS, ENETDOWN, ...) are returned as -errno; exceptions are
 *    thrown for programming errors (bad arguments, unknown fd) and failed opens.
 *  - Exceptions thrown by a JS receive callback are caught, cleared and passed to
 *    process.emitWarning(); receiving continues with the next datagram.
 */
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef IFAPROT_UNSPEC
#define CP_IFA_PROTO IFA_PROTO
#else
#define CP_IFA_PROTO 11 /* Linux >= 6.1; the uapi headers here are older */
#endif
#ifndef IFA_F_NOPREFIXROUTE
#define IFA_F_NOPREFIXROUTE 0x200
#endif

#define RX_BUF_SIZE 65536      /* one IPv4 datagram can be 65535 bytes */
#define DISPATCH_BUDGET 1024   /* datagrams per wake-up; the level-triggered poll wakes again */
#define NL_ACK_TIMEOUT_MS 100
#define RAW_RCVBUF (256 * 1024)

/* uv close callback that lives outside this addon (see stop_poll); the handle pointer is
 * the malloc'ed block. The detour through void (*)(void) keeps -Wcast-function-type quiet. */
#define FREE_ON_CLOSE ((uv_close_cb)(void (*)(void))free)

enum sock_kind { K_ANY = 0, K_RAW = 1, K_PACKET = 2, K_MONITOR = 3, K_UNIX = 4 };

struct cp_state;
struct cp_sock;

/* A uv poll handle and the JS side of a running receive. `handle` must stay the first
 * member: the uv close callback is libc's free() on the handle pointer (see stop_poll). */
typedef struct cp_poll {
  uv_poll_t handle; /* first member: the handle pointer is the struct pointer */
  struct cp_sock *sock;
  napi_ref callback;
  napi_ref resource;
  napi_async_context async_ctx;
  bool stopped;
  bool in_dispatch;
} cp_poll;

/* One fd handed out to JS. Reference counted: the registry holds one, a running dispatch one. */
typedef struct cp_sock {
  struct cp_sock *next;
  struct cp_state *state;
  int fd;
  int kind;
  int family; /* AF_INET / AF_INET6 for raw sockets */
  int ifindex;
  int refs;
  cp_poll *poll;
} cp_sock;

typedef struct cp_state {
  napi_env env;
  uv_loop_t *loop;
  cp_sock *socks;
  unsigned char *rxbuf;
  uint32_t nl_seq;
} cp_state;

/* ------------------------------------------------------------------------------------ */
/* errors                                                                               */

static const char *errno_name(int e) {
  switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF) E(EAGAIN) E(ENOMEM)
    E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE)
    E(EMFILE) E(ENOTTY) E(ENOSPC) E(EROFS) E(EPIPE) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS)
    E(ELOOP) E(ENODATA) E(ETIME) E(ENOLINK) E(EPROTO) E(EBADMSG) E(EOVERFLOW) E(ENOTSOCK)
    E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT) E(EPROTONOSUPPORT)
    E(ESOCKTNOSUPPORT) E(EOPNOTSUPP) E(EPFNOSUPPORT) E(EAFNOSUPPORT) E(EADDRINUSE)
    E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ENETRESET) E(ECONNABORTED) E(ECONNRESET)
    E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ESHUTDOWN) E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTDOWN)
    E(EHOSTUNREACH) E(EALREADY) E(EINPROGRESS) E(ECANCELED) E(ERFKILL)
#undef E
    default: return "EUNKNOWN";
  }
}

static void set_prop_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_value val;
  if (napi_create_int64(env, v, &val) == napi_ok) napi_set_named_property(env, obj, name, val);
}

static void set_prop_str(napi_env env, napi_value obj, const char *name, const char *s) {
  napi_value val;
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &val) == napi_ok) napi_set_named_property(env, obj, name, val);
}

static void set_prop_bool(napi_env env, napi_value obj, const char *name, bool b) {
  napi_value val;
  if (napi_get_boolean(env, b, &val) == napi_ok) napi_set_named_property(env, obj, name, val);
}

static void set_prop_null(napi_env env, napi_value obj, const char *name) {
  napi_value val;
  if (napi_get_null(env, &val) == napi_ok) napi_set_named_property(env, obj, name, val);
}

/* Throw Error{code: 'EXXX', errno: -err, syscall} with "syscall detail: strerror". Returns NULL. */
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  char msg[512];
  napi_value code, text, error;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return NULL;
  snprintf(msg, sizeof msg, "%s%s%s: %s (%s)", syscall, detail && *detail ? " " : "", detail ? detail : "",
           strerror(err), errno_name(err));
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok) {
    napi_throw_error(env, errno_name(err), msg);
    return NULL;
  }
  set_prop_int(env, error, "errno", -err);
  set_prop_str(env, error, "syscall", syscall);
  napi_throw(env, error);
  return NULL;
}

/* Programming error in the arguments: TypeError with code EINVAL. Returns NULL. */
static napi_value throw_arg(napi_env env, const char *fn, const char *what) {
  char msg[256];
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return NULL;
  snprintf(msg, sizeof msg, "%s: %s", fn, what);
  napi_throw_type_error(env, "EINVAL", msg);
  return NULL;
}

/* A napi call failed without a JS exception (should not happen): make it one. */
static napi_value throw_napi(napi_env env, const char *fn) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    char msg[256];
    napi_get_last_error_info(env, &info);
    snprintf(msg, sizeof msg, "%s: N-API call failed: %s", fn,
             info && info->error_message ? info->error_message : "unknown");
    napi_throw_error(env, "ENAPI", msg);
  }
  return NULL;
}

#define NAPI_OK(call, fn) do { if ((call) != napi_ok) return throw_napi(env, fn); } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (napi_create_int64(env, v, &out) != napi_ok) return throw_napi(env, "make_int");
  return out;
}

static napi_value make_undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

/* ------------------------------------------------------------------------------------ */
/* argument helpers (all return false with a pending exception on failure)                */

/* Fetch up to `cap` arguments (missing ones are undefined); at least `want` must be given. */
static bool get_args_opt(napi_env env, napi_callback_info info, const char *fn, size_t want, size_t cap,
                         napi_value *argv, cp_state **state) {
  size_t argc = cap;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) {
    throw_napi(env, fn);
    return false;
  }
  if (state) *state = data;
  if (argc < want) {
    char what[64];
    snprintf(what, sizeof what, "expected %zu arguments, got %zu", want, argc);
    throw_arg(env, fn, what);
    return false;
  }
  return true;
}

static bool get_args(napi_env env, napi_callback_info info, const char *fn, size_t want, napi_value *argv,
                     cp_state **state) {
  return get_args_opt(env, info, fn, want, want, argv, state);
}

static bool is_type(napi_env env, napi_value v, napi_valuetype t) {
  napi_valuetype actual;
  return napi_typeof(env, v, &actual) == napi_ok && actual == t;
}

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null;
}

static bool arg_int(napi_env env, napi_value v, const char *fn, const char *name, int64_t min, int64_t max,
                    int64_t *out) {
  double d;
  char what[128];
  /* Range first: NaN and infinities fail it, so the cast below is always defined. */
  if (!is_type(env, v, napi_number) || napi_get_value_double(env, v, &d) != napi_ok ||
      !(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) {
    snprintf(what, sizeof what, "%s must be an integer %lld..%lld", name, (long long)min, (long long)max);
    throw_arg(env, fn, what);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool arg_str(napi_env env, napi_value v, const char *fn, const char *name, char *buf, size_t cap) {
  size_t len = 0;
  char what[128];
  if (!is_type(env, v, napi_string) || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok ||
      len >= cap) {
    snprintf(what, sizeof what, "%s must be a string of at most %zu bytes", name, cap - 1);
    throw_arg(env, fn, what);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) {
    throw_napi(env, fn);
    return false;
  }
  if (strlen(buf) != len) {
    snprintf(what, sizeof what, "%s must not contain NUL", name);
    throw_arg(env, fn, what);
    return false;
  }
  return true;
}

static bool arg_bytes(napi_env env, napi_value v, const char *fn, const char *name, const uint8_t **data,
                      size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  size_t length = 0;
  char what[128];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    snprintf(what, sizeof what, "%s must be a Uint8Array", name);
    throw_arg(env, fn, what);
    return false;
  }
  *data = ptr;
  *len = length;
  return true;
}

static bool arg_family(napi_env env, napi_value v, const char *fn, int *af) {
  int64_t f;
  if (!arg_int(env, v, fn, "family", 4, 6, &f) || (f != 4 && f != 6)) {
    throw_arg(env, fn, "family must be 4 or 6");
    return false;
  }
  *af = f == 4 ? AF_INET : AF_INET6;
  return true;
}

/* Text address of the given family into 16 bytes (IPv4 uses the first 4). */
static bool arg_addr(napi_env env, napi_value v, const char *fn, const char *name, int af, unsigned char *out) {
  char text[INET6_ADDRSTRLEN + 32];
  char what[160];
  char *pct;
  if (!arg_str(env, v, fn, name, text, sizeof text)) return false;
  pct = strchr(text, '%'); /* scope is taken from the socket's interface */
  if (pct && af == AF_INET6) *pct = 0;
  memset(out, 0, 16);
  if (inet_pton(af, text, out) != 1) {
    snprintf(what, sizeof what, "%s is not a valid IPv%d address: %.64s", name, af == AF_INET ? 4 : 6, text);
    throw_arg(env, fn, what);
    return false;
  }
  return true;
}

/* Named property of an options object; *present is false for a missing object, undefined or null. */
static bool opt_get(napi_env env, napi_value obj, const char *name, napi_value *out, bool *present) {
  bool has = false;
  *present = false;
  if (is_nullish(env, obj)) return true;
  if (!is_type(env, obj, napi_object)) return true;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok) return false;
  if (!has) return true;
  if (napi_get_named_property(env, obj, name, out) != napi_ok) return false;
  *present = !is_nullish(env, *out);
  return true;
}

static bool opt_int(napi_env env, napi_value obj, const char *fn, const char *name, int64_t min, int64_t max,
                    int64_t *out, bool *present) {
  napi_value v;
  if (!opt_get(env, obj, name, &v, present)) return false;
  return !*present || arg_int(env, v, fn, name, min, max, out);
}

static bool opt_bool(napi_env env, napi_value obj, const char *fn, const char *name, bool *out) {
  napi_value v;
  bool present;
  *out = false;
  if (!opt_get(env, obj, name, &v, &present)) return false;
  if (!present) return true;
  if (!is_type(env, v, napi_boolean) || napi_get_value_bool(env, v, out) != napi_ok) {
    char what[96];
    snprintf(what, sizeof what, "%s must be a boolean", name);
    throw_arg(env, fn, what);
    return false;
  }
  return true;
}

static bool opt_addr(napi_env env, napi_value obj, const char *fn, const char *name, int af, unsigned char *out,
                     bool *present) {
  napi_value v;
  if (!opt_get(env, obj, name, &v, present)) return false;
  return !*present || arg_addr(env, v, fn, name, af, out);
}

/* "eth0:carp0" -> "eth0" (Linux IPv4 aliases are labels on the same device). */
static bool base_ifname(const char *name, char *out) {
  size_t n = strcspn(name, ":");
  if (n == 0 || n >= IFNAMSIZ) return false;
  memcpy(out, name, n);
  out[n] = 0;
  return true;
}

/* ------------------------------------------------------------------------------------ */
/* fd registry and uv polling                                                           */

static cp_sock *sock_find(cp_state *st, int fd) {
  for (cp_sock *s = st->socks; s; s = s->next)
    if (s->fd == fd) return s;
  return NULL;
}

static cp_sock *sock_add(cp_state *st, int fd, int kind, int family, int ifindex) {
  cp_sock *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->state = st;
  s->fd = fd;
  s->kind = kind;
  s->family = family;
  s->ifindex = ifindex;
  s->refs = 1;
  s->next = st->socks;
  st->socks = s;
  return s;
}

static void sock_unref(cp_sock *s) {
  if (--s->refs == 0) free(s);
}

static void sock_unlink(cp_state *st, cp_sock *s) {
  for (cp_sock **pp = &st->socks; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      s->next = NULL;
      return;
    }
  }
}

/* Registered fd of the expected kind, or NULL with an EBADF exception. */
static cp_sock *arg_sock(napi_env env, cp_state *st, napi_value v, const char *fn, int kind) {
  int64_t fd;
  cp_sock *s;
  if (!arg_int(env, v, fn, "fd", 0, INT32_MAX, &fd)) return NULL;
  s = sock_find(st, (int)fd);
  if (!s || (kind != K_ANY && s->kind != kind)) {
    throw_errno(env, EBADF, fn, "(not an open carpool socket of this kind)");
    return NULL;
  }
  return s;
}

static void poll_release_js(napi_env env, cp_poll *p) {
  if (p->callback) napi_delete_reference(env, p->callback);
  if (p->resource) napi_delete_reference(env, p->resource);
  if (p->async_ctx) napi_async_destroy(env, p->async_ctx);
  p->callback = NULL;
  p->resource = NULL;
  p->async_ctx = NULL;
}

/* Stop receiving and close the uv handle. Its close callback is libc's free(), not a
 * function of this addon: a worker thread unloads the addon before its loop runs the
 * pending close callbacks. With `teardown` the environment is going away: no N-API calls,
 * the references die with it. */
static void stop_poll(napi_env env, cp_sock *s, bool teardown) {
  cp_poll *p = s->poll;
  if (!p) return;
  s->poll = NULL;
  p->sock = NULL;
  p->stopped = true;
  uv_poll_stop(&p->handle);
  uv_close((uv_handle_t *)&p->handle, FREE_ON_CLOSE);
  if (!teardown && !p->in_dispatch) poll_release_js(env, p);
}

static void close_sock(napi_env env, cp_state *st, cp_sock *s, bool teardown) {
  stop_poll(env, s, teardown);
  sock_unlink(st, s);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  sock_unref(s);
}

/* Last-resort handling of an exception thrown by a receive callback: clear it and hand it
 * to process.emitWarning() so it is visible but cannot kill the daemon's receive path. */
static void report_callback_exception(napi_env env) {
  bool pending = false, is_error = false;
  napi_value exc, global, process, emit, arg, ignored;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  if (napi_get_and_clear_last_exception(env, &exc) != napi_ok) return;
  arg = exc;
  napi_is_error(env, exc, &is_error);
  if (!is_error && napi_coerce_to_string(env, exc, &arg) != napi_ok) {
    napi_get_and_clear_last_exception(env, &ignored);
    napi_create_string_utf8(env, "carpool_net: receive callback threw a non-Error value", NAPI_AUTO_LENGTH, &arg);
  }
  if (napi_get_global(env, &global) == napi_ok && napi_get_named_property(env, global, "process", &process) == napi_ok &&
      napi_get_named_property(env, process, "emitWarning", &emit) == napi_ok && is_type(env, emit, napi_function)) {
    if (napi_call_function(env, process, emit, 1, &arg, &ignored) != napi_ok)
      napi_get_and_clear_last_exception(env, &ignored);
  }
}

typedef int (*dispatch_fn)(napi_env env, cp_sock *s, napi_value recv, napi_value cb);

/* Common poll callback body: scopes, budget, exception handling. `one` reads one datagram,
 * calls JS for it and returns 1, or returns 0 when the socket is drained. */
static void dispatch(cp_poll *p, dispatch_fn one) {
  cp_sock *s = p->sock;
  napi_env env;
  napi_handle_scope hs;
  napi_callback_scope cs;
  napi_value resource, cb, recv;
  if (p->stopped || !s) return;
  env = s->state->env;
  if (napi_open_handle_scope(env, &hs) != napi_ok) return;
  if (napi_get_reference_value(env, p->resource, &resource) != napi_ok ||
      napi_get_reference_value(env, p->callback, &cb) != napi_ok || napi_get_undefined(env, &recv) != napi_ok ||
      napi_open_callback_scope(env, resource, p->async_ctx, &cs) != napi_ok) {
    napi_close_handle_scope(env, hs);
    return;
  }
  /* A callback may close the socket: keep `s` (and `p`, freed only by a later uv close
   * callback) valid until the loop below notices. */
  s->refs++;
  p->in_dispatch = true;
  for (int n = 0; n < DISPATCH_BUDGET && !p->stopped; n++) {
    napi_handle_scope inner;
    int more;
    if (napi_open_handle_scope(env, &inner) != napi_ok) break;
    more = one(env, s, recv, cb);
    report_callback_exception(env);
    napi_close_handle_scope(env, inner);
    if (!more) break;
  }
  p->in_dispatch = false;
  sock_unref(s);
  napi_close_callback_scope(env, cs); /* runs process.nextTick and microtasks */
  napi_close_handle_scope(env, hs);
  if (p->stopped) poll_release_js(env, p);
}

static void on_poll_event(uv_poll_t *h, int status, int events);

/* Begin polling fd for readability; callback and kind-specific reader are remembered. */
static napi_value start_poll(napi_env env, cp_state *st, cp_sock *s, napi_value callback, const char *fn,
                             const char *resource_name) {
  cp_poll *p;
  napi_value resource, name;
  int rc;
  if (!is_type(env, callback, napi_function)) return throw_arg(env, fn, "callback must be a function");
  if (s->poll) return throw_errno(env, EALREADY, fn, "(receive already started)");
  p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, ENOMEM, fn, NULL);
  rc = uv_poll_init(st->loop, &p->handle, s->fd);
  if (rc < 0) {
    free(p);
    return throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, resource, name, &p->async_ctx) != napi_ok ||
      napi_create_reference(env, resource, 1, &p->resource) != napi_ok ||
      napi_create_reference(env, callback, 1, &p->callback) != napi_ok) {
    poll_release_js(env, p);
    uv_close((uv_handle_t *)&p->handle, FREE_ON_CLOSE);
    return throw_napi(env, fn);
  }
  rc = uv_poll_start(&p->handle, UV_READABLE, on_poll_event);
  if (rc < 0) {
    poll_release_js(env, p);
    uv_close((uv_handle_t *)&p->handle, FREE_ON_CLOSE);
    return throw_errno(env, -rc, "uv_poll_start", NULL);
  }
  p->sock = s;
  s->poll = p;
  return make_undefined(env);
}

/* Environment teardown (process exit, worker end): close every handle and fd. */
static void cleanup_hook(void *arg) {
  cp_state *st = arg;
  while (st->socks) close_sock(st->env, st, st->socks, true);
  free(st->rxbuf);
  free(st);
}

/* ------------------------------------------------------------------------------------ */
/* raw IP sockets                                                                        */

static int set_int_opt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

static void set_rcvbuf(int fd, int bytes) {
  /* SO_RCVBUFFORCE ignores net.core.rmem_max when privileged; fall back quietly. */
  if (set_int_opt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes) < 0) set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, bytes);
}

/* rawOpen(family, protocol, ifname, {tos?, unicastTtl?, multicastTtl?}) -> fd */
static napi_value raw_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  cp_state *st;
  int af, fd, ifindex = 0;
  int64_t protocol, tos = -1, uttl = 255, mttl = 255;
  bool has_tos, has_uttl, has_mttl;
  char ifname[IFNAMSIZ + 64], base[IFNAMSIZ];
  const char *fail = NULL;
  if (!get_args_opt(env, info, "rawOpen", 3, 4, argv, &st)) return NULL;
  if (!arg_family(env, argv[0], "rawOpen", &af)) return NULL;
  if (!arg_int(env, argv[1], "rawOpen", "protocol", 1, 254, &protocol)) return NULL;
  if (!arg_str(env, argv[2], "rawOpen", "ifname", ifname, sizeof ifname)) return NULL;
  if (!opt_int(env, argv[3], "rawOpen", "tos", 0, 255, &tos, &has_tos)) return NULL;
  if (!opt_int(env, argv[3], "rawOpen", "unicastTtl", 1, 255, &uttl, &has_uttl)) return NULL;
  if (!opt_int(env, argv[3], "rawOpen", "multicastTtl", 1, 255, &mttl, &has_mttl)) return NULL;
  if (ifname[0]) {
    if (!base_ifname(ifname, base)) return throw_arg(env, "rawOpen", "invalid interface name");
    ifindex = (int)if_nametoindex(base);
    if (!ifindex) return throw_errno(env, errno == ENXIO ? ENODEV : errno, "if_nametoindex", base);
  }
  fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)protocol);
  if (fd < 0) return throw_errno(env, errno, "socket", af == AF_INET ? "(AF_INET, SOCK_RAW)" : "(AF_INET6, SOCK_RAW)");
  set_rcvbuf(fd, RAW_RCVBUF);
  if (ifindex && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, base, (socklen_t)strlen(base) + 1) < 0)
    fail = "setsockopt(SO_BINDTODEVICE)";
  if (!fail && af == AF_INET) {
    struct ip_mreqn mreq;
    memset(&mreq, 0, sizeof mreq);
    mreq.imr_ifindex = ifindex;
    if (set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL, (int)mttl) < 0) fail = "setsockopt(IP_MULTICAST_TTL)";
    else if (set_int_opt(fd, IPPROTO_IP, IP_TTL, (int)uttl) < 0) fail = "setsockopt(IP_TTL)";
    else if (set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0) < 0) fail = "setsockopt(IP_MULTICAST_LOOP)";
    else if (ifindex && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq) < 0)
      fail = "setsockopt(IP_MULTICAST_IF)";
    else if (set_int_opt(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0) fail = "setsockopt(IP_PKTINFO)";
    else if (has_tos && set_int_opt(fd, IPPROTO_IP, IP_TOS, (int)tos) < 0) fail = "setsockopt(IP_TOS)";
  } else if (!fail) {
    if (set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, (int)mttl) < 0) fail = "setsockopt(IPV6_MULTICAST_HOPS)";
    else if (set_int_opt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, (int)uttl) < 0) fail = "setsockopt(IPV6_UNICAST_HOPS)";
    else if (set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0) < 0) fail = "setsockopt(IPV6_MULTICAST_LOOP)";
    else if (ifindex && set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex) < 0)
      fail = "setsockopt(IPV6_MULTICAST_IF)";
    else if (set_int_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0) fail = "setsockopt(IPV6_RECVPKTINFO)";
    else if (set_int_opt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) < 0) fail = "setsockopt(IPV6_RECVHOPLIMIT)";
    else if (has_tos && set_int_opt(fd, IPPROTO_IPV6, IPV6_TCLASS, (int)tos) < 0) fail = "setsockopt(IPV6_TCLASS)";
    else if (set_int_opt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, -1) < 0) fail = "setsockopt(IPV6_CHECKSUM)";
  }
  if (fail) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, fail, ifname);
  }
  if (!sock_add(st, fd, K_RAW, af, ifindex)) {
    close(fd);
    return throw_errno(env, ENOMEM, "rawOpen", NULL);
  }
  return make_int(env, fd);
}

static socklen_t fill_sockaddr(int af, const unsigned char *addr, int ifindex, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (af == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, addr, 4);
    return sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, addr, 16);
    if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) || IN6_IS_ADDR_MC_LINKLOCAL(&sin6->sin6_addr) ||
        IN6_IS_ADDR_MC_NODELOCAL(&sin6->sin6_addr))
      sin6->sin6_scope_id = (uint32_t)ifindex;
    return sizeof *sin6;
  }
}

static bool check_family(napi_env env, napi_value v, const char *fn, cp_sock *s, int *af) {
  if (!arg_family(env, v, fn, af)) return false;
  if (*af != s->family) {
    throw_arg(env, fn, "family does not match the socket");
    return false;
  }
  return true;
}

/* rawBind(fd, family, srcAddress) */
static napi_value raw_bind(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  cp_state *st;
  cp_sock *s;
  int af;
  unsigned char addr[16];
  struct sockaddr_storage ss;
  socklen_t len;
  if (!get_args(env, info, "rawBind", 3, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "rawBind", K_RAW))) return NULL;
  if (!check_family(env, argv[1], "rawBind", s, &af)) return NULL;
  if (!arg_addr(env, argv[2], "rawBind", "srcAddress", af, addr)) return NULL;
  len = fill_sockaddr(af, addr, s->ifindex, &ss);
  if (bind(s->fd, (struct sockaddr *)&ss, len) < 0) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(af, addr, text, sizeof text);
    return throw_errno(env, errno, "bind", text);
  }
  return make_undefined(env);
}

static napi_value raw_membership(napi_env env, napi_callback_info info, bool join) {
  const char *fn = join ? "rawJoin" : "rawLeave";
  napi_value argv[4];
  cp_state *st;
  cp_sock *s;
  int af, ifindex = 0, rc;
  unsigned char group[16];
  char ifname[IFNAMSIZ + 64], base[IFNAMSIZ];
  if (!get_args(env, info, fn, 4, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], fn, K_RAW))) return NULL;
  if (!check_family(env, argv[1], fn, s, &af)) return NULL;
  if (!arg_addr(env, argv[2], fn, "group", af, group)) return NULL;
  if (!arg_str(env, argv[3], fn, "ifname", ifname, sizeof ifname)) return NULL;
  if (ifname[0]) {
    if (!base_ifname(ifname, base)) return throw_arg(env, fn, "invalid interface name");
    ifindex = (int)if_nametoindex(base);
    if (!ifindex) return throw_errno(env, errno == ENXIO ? ENODEV : errno, "if_nametoindex", base);
  } else {
    ifindex = s->ifindex;
  }
  if (af == AF_INET) {
    struct ip_mreqn mreq;
    memset(&mreq, 0, sizeof mreq);
    memcpy(&mreq.imr_multiaddr, group, 4);
    mreq.imr_ifindex = ifindex;
    rc = setsockopt(s->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mreq, sizeof mreq);
  } else {
    struct ipv6_mreq mreq;
    memset(&mreq, 0, sizeof mreq);
    memcpy(&mreq.ipv6mr_multiaddr, group, 16);
    mreq.ipv6mr_interface = (unsigned)ifindex;
    rc = setsockopt(s->fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &mreq, sizeof mreq);
  }
  if (rc < 0) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(af, group, text, sizeof text);
    return throw_errno(env, errno,
                       af == AF_INET ? (join ? "setsockopt(IP_ADD_MEMBERSHIP)" : "setsockopt(IP_DROP_MEMBERSHIP)")
                                     : (join ? "setsockopt(IPV6_JOIN_GROUP)" : "setsockopt(IPV6_LEAVE_GROUP)"),
                       text);
  }
  return make_undefined(env);
}

static napi_value raw_join(napi_env env, napi_callback_info info) { return raw_membership(env, info, true); }
static napi_value raw_leave(napi_env env, napi_callback_info info) { return raw_membership(env, info, false); }

/* rawSetChecksumOffset(fd, offset): IPv6 only; -1 disables kernel checksumming. */
static napi_value raw_set_checksum_offset(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  cp_state *st;
  cp_sock *s;
  int64_t offset;
  if (!get_args(env, info, "rawSetChecksumOffset", 2, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "rawSetChecksumOffset", K_RAW))) return NULL;
  if (!arg_int(env, argv[1], "rawSetChecksumOffset", "offset", -1, 65534, &offset)) return NULL;
  if (s->family != AF_INET6) return throw_arg(env, "rawSetChecksumOffset", "only IPv6 raw sockets have IPV6_CHECKSUM");
  if (offset >= 0 && offset % 2) return throw_arg(env, "rawSetChecksumOffset", "offset must be even");
  if (set_int_opt(s->fd, IPPROTO_IPV6, IPV6_CHECKSUM, (int)offset) < 0)
    return throw_errno(env, errno, "setsockopt(IPV6_CHECKSUM)", NULL);
  return make_undefined(env);
}

/* Errors of a send that mean the caller passed something wrong rather than the network being unhappy. */
static bool send_errno_is_bug(int err) {
  return err == EBADF || err == ENOTSOCK || err == EFAULT || err == EDESTADDRREQ;
}

/* rawSend(fd, family, dst, payload, src?) -> bytes sent or -errno. With `src` the source
 * address is chosen for this datagram (IP_PKTINFO / IPV6_PKTINFO) instead of by bind(),
 * which would also filter what the socket receives to that destination address. */
static napi_value raw_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  cp_state *st;
  cp_sock *s;
  int af;
  unsigned char dst[16], src[16];
  const uint8_t *data;
  size_t len;
  struct sockaddr_storage ss;
  struct iovec iov;
  struct msghdr msg;
  union {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
  } control;
  ssize_t n;
  if (!get_args_opt(env, info, "rawSend", 4, 5, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "rawSend", K_RAW))) return NULL;
  if (!check_family(env, argv[1], "rawSend", s, &af)) return NULL;
  if (!arg_addr(env, argv[2], "rawSend", "dst", af, dst)) return NULL;
  if (!arg_bytes(env, argv[3], "rawSend", "payload", &data, &len)) return NULL;
  memset(&msg, 0, sizeof msg);
  iov.iov_base = (void *)data;
  iov.iov_len = len;
  msg.msg_name = &ss;
  msg.msg_namelen = fill_sockaddr(af, dst, s->ifindex, &ss);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!is_nullish(env, argv[4])) {
    struct cmsghdr *c;
    if (!arg_addr(env, argv[4], "rawSend", "src", af, src)) return NULL;
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    if (af == AF_INET) {
      struct in_pktinfo pi;
      memset(&pi, 0, sizeof pi);
      memcpy(&pi.ipi_spec_dst, src, 4);
      msg.msg_controllen = CMSG_SPACE(sizeof pi);
      c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof pi);
      memcpy(CMSG_DATA(c), &pi, sizeof pi);
    } else {
      struct in6_pktinfo pi;
      memset(&pi, 0, sizeof pi);
      memcpy(&pi.ipi6_addr, src, 16);
      pi.ipi6_ifindex = (unsigned)s->ifindex;
      msg.msg_controllen = CMSG_SPACE(sizeof pi);
      c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof pi);
      memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
  }
  do {
    n = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (send_errno_is_bug(errno)) return throw_errno(env, errno, "sendmsg", NULL);
    return make_int(env, -errno);
  }
  return make_int(env, n);
}

static bool make_addr_string(napi_env env, int af, const void *addr, napi_value *out) {
  char text[INET6_ADDRSTRLEN];
  if (!inet_ntop(af, addr, text, sizeof text)) text[0] = 0;
  return napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, out) == napi_ok;
}

/* Read one datagram from a raw socket and call callback(packet, src, dst, ttl, ifindex). */
static int raw_read_one(napi_env env, cp_sock *s, napi_value recv, napi_value cb) {
  unsigned char *buf = s->state->rxbuf;
  struct sockaddr_storage from;
  union {
    char buf[256];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = buf, .iov_len = RX_BUF_SIZE};
  struct msghdr msg;
  struct cmsghdr *c;
  ssize_t n;
  int ttl = -1, ifindex = 0;
  unsigned char src[16], dst[16];
  napi_value argv[5];
  memset(&msg, 0, sizeof msg);
  memset(src, 0, sizeof src);
  memset(dst, 0, sizeof dst);
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  n = recvmsg(s->fd, &msg, MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    /* EINTR, or a pending asynchronous socket error (ICMP) that recvmsg just consumed: try again. */
    return 1;
  }
  /* MSG_TRUNC cannot happen with a 64 KiB buffer for IP; if it does, deliver what was captured. */
  for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      ifindex = pi.ipi_ifindex;
      if (s->family == AF_INET) memcpy(dst, &pi.ipi_addr, 4);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      ifindex = (int)pi.ipi6_ifindex;
      memcpy(dst, &pi.ipi6_addr, 16);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
    }
  }
  if (s->family == AF_INET) {
    if (from.ss_family == AF_INET) memcpy(src, &((struct sockaddr_in *)&from)->sin_addr, 4);
    if (n >= 20 && (buf[0] >> 4) == 4) {
      /* The kernel hands raw IPv4 sockets the whole datagram: take the facts from the header. */
      ttl = buf[8];
      memcpy(src, buf + 12, 4);
      memcpy(dst, buf + 16, 4);
    }
  } else if (from.ss_family == AF_INET6) {
    memcpy(src, &((struct sockaddr_in6 *)&from)->sin6_addr, 16);
  }
  if (napi_create_buffer_copy(env, (size_t)n, buf, NULL, &argv[0]) != napi_ok ||
      !make_addr_string(env, s->family, src, &argv[1]) || !make_addr_string(env, s->family, dst, &argv[2]) ||
      napi_create_int32(env, ttl, &argv[3]) != napi_ok || napi_create_int32(env, ifindex, &argv[4]) != napi_ok)
    return 1;
  napi_call_function(env, recv, cb, 5, argv, NULL);
  return 1;
}

/* ------------------------------------------------------------------------------------ */
/* netlink link monitor                                                                  */

static void nl_parse_attrs(struct rtattr *rta, int len, struct rtattr **tb, int max) {
  memset(tb, 0, sizeof(struct rtattr *) * (size_t)(max + 1));
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
    if (rta->rta_type <= max) tb[rta->rta_type] = rta;
}

static int family_to_js(int af) { return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0; }

/* {type:'link', ifindex, name, flags, up, running, lowerUp, deleted} */
static bool build_link_event(napi_env env, struct nlmsghdr *h, napi_value *out) {
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  struct rtattr *tb[IFLA_MAX + 1];
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ifi)) return false;
  nl_parse_attrs(IFLA_RTA(ifi), (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi)), tb, IFLA_MAX);
  if (napi_create_object(env, out) != napi_ok) return false;
  set_prop_str(env, *out, "type", "link");
  set_prop_int(env, *out, "ifindex", ifi->ifi_index);
  if (tb[IFLA_IFNAME]) {
    char name[IFNAMSIZ];
    size_t n = RTA_PAYLOAD(tb[IFLA_IFNAME]);
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, RTA_DATA(tb[IFLA_IFNAME]), n);
    name[n] = 0;
    set_prop_str(env, *out, "name", name);
  } else {
    set_prop_null(env, *out, "name");
  }
  set_prop_int(env, *out, "flags", ifi->ifi_flags);
  set_prop_bool(env, *out, "up", (ifi->ifi_flags & IFF_UP) != 0);
  set_prop_bool(env, *out, "running", (ifi->ifi_flags & IFF_RUNNING) != 0);
  set_prop_bool(env, *out, "lowerUp", (ifi->ifi_flags & 0x10000 /* IFF_LOWER_UP */) != 0);
  set_prop_bool(env, *out, "deleted", h->nlmsg_type == RTM_DELLINK);
  return true;
}

/* Address object shared by addrList and the monitor: {ifindex, family, address, prefix, label, flags, proto, scope} */
static bool build_addr(napi_env env, struct nlmsghdr *h, napi_value *out) {
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  struct rtattr *tb[IFA_MAX + 1 > CP_IFA_PROTO + 1 ? IFA_MAX + 1 : CP_IFA_PROTO + 1];
  struct rtattr *a;
  napi_value addr;
  uint32_t flags;
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ifa)) return false;
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return false;
  nl_parse_attrs(IFA_RTA(ifa), (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *ifa)), tb,
                 (int)(sizeof tb / sizeof tb[0]) - 1);
  a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (!a || RTA_PAYLOAD(a) < (ifa->ifa_family == AF_INET ? 4u : 16u)) return false;
  if (napi_create_object(env, out) != napi_ok) return false;
  set_prop_int(env, *out, "ifindex", ifa->ifa_index);
  set_prop_int(env, *out, "family", family_to_js(ifa->ifa_family));
  if (make_addr_string(env, ifa->ifa_family, RTA_DATA(a), &addr)) napi_set_named_property(env, *out, "address", addr);
  set_prop_int(env, *out, "prefix", ifa->ifa_prefixlen);
  if (tb[IFA_LABEL]) {
    char label[IFNAMSIZ];
    size_t n = RTA_PAYLOAD(tb[IFA_LABEL]);
    if (n >= sizeof label) n = sizeof label - 1;
    memcpy(label, RTA_DATA(tb[IFA_LABEL]), n);
    label[n] = 0;
    set_prop_str(env, *out, "label", label);
  } else {
    set_prop_null(env, *out, "label");
  }
  flags = ifa->ifa_flags;
  if (tb[IFA_FLAGS] && RTA_PAYLOAD(tb[IFA_FLAGS]) >= 4) memcpy(&flags, RTA_DATA(tb[IFA_FLAGS]), 4);
  set_prop_int(env, *out, "flags", flags);
  set_prop_int(env, *out, "proto",
               tb[CP_IFA_PROTO] && RTA_PAYLOAD(tb[CP_IFA_PROTO]) >= 1 ? *(uint8_t *)RTA_DATA(tb[CP_IFA_PROTO]) : 0);
  set_prop_int(env, *out, "scope", ifa->ifa_scope);
  return true;
}

static void call_event(napi_env env, napi_value recv, napi_value cb, napi_value ev) {
  napi_call_function(env, recv, cb, 1, &ev, NULL);
  report_callback_exception(env);
}

static int monitor_read_one(napi_env env, cp_sock *s, napi_value recv, napi_value cb) {
  unsigned char *buf = s->state->rxbuf;
  struct sockaddr_nl from;
  struct iovec iov = {.iov_base = buf, .iov_len = RX_BUF_SIZE};
  struct msghdr msg;
  ssize_t n;
  int len;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  n = recvmsg(s->fd, &msg, MSG_DONTWAIT);
  if (n < 0) {
    napi_value ev;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno == ENOBUFS) {
      /* The kernel dropped notifications: the listener must resynchronise from a dump. */
      if (napi_create_object(env, &ev) == napi_ok) {
        set_prop_str(env, ev, "type", "overrun");
        call_event(env, recv, cb, ev);
      }
    }
    return 1;
  }
  if (from.nl_pid != 0) return 1; /* only the kernel speaks on these groups */
  len = (int)n;
  for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)len); h = NLMSG_NEXT(h, len)) {
    napi_handle_scope hs;
    napi_value ev;
    bool ok = false;
    if (napi_open_handle_scope(env, &hs) != napi_ok) return 1;
    if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) {
      ok = build_link_event(env, h, &ev);
    } else if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
      ok = build_addr(env, h, &ev);
      if (ok) {
        set_prop_str(env, ev, "type", "addr");
        set_prop_bool(env, ev, "deleted", h->nlmsg_type == RTM_DELADDR);
      }
    }
    if (ok) call_event(env, recv, cb, ev);
    napi_close_handle_scope(env, hs);
    if (!s->poll || s->poll->stopped) break; /* closed from inside the callback */
  }
  return 1;
}

static void on_poll_event(uv_poll_t *h, int status, int events) {
  cp_poll *p = (cp_poll *)h;
  (void)events;
  if (!p->sock || p->stopped) return;
  dispatch(p, p->sock->kind == K_MONITOR ? monitor_read_one : raw_read_one);
  /* On POLLERR libuv stops the handle and reports UV_EBADF. The socket is fine: a pending
   * socket error (netlink ENOBUFS overrun, ICMP error) was just consumed by recvmsg in
   * dispatch(), so listen again instead of going deaf. */
  if (status < 0 && !p->stopped) uv_poll_start(&p->handle, UV_READABLE, on_poll_event);
}

/* rawStart(fd, family, callback) */
static napi_value raw_start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  cp_state *st;
  cp_sock *s;
  int af;
  if (!get_args(env, info, "rawStart", 3, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "rawStart", K_RAW))) return NULL;
  if (!check_family(env, argv[1], "rawStart", s, &af)) return NULL;
  return start_poll(env, st, s, argv[2], "rawStart", "carpool:raw");
}

/* rawStop(fd): idempotent; unknown fds are ignored. */
static napi_value raw_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  cp_state *st;
  cp_sock *s;
  int64_t fd;
  if (!get_args(env, info, "rawStop", 1, argv, &st)) return NULL;
  if (!arg_int(env, argv[0], "rawStop", "fd", -1, INT32_MAX, &fd)) return NULL;
  s = sock_find(st, (int)fd);
  if (s && s->kind == K_RAW) stop_poll(env, s, false);
  return make_undefined(env);
}

/* Close a registered fd of `kind`: idempotent, returns true when something was closed. */
static napi_value close_kind(napi_env env, napi_callback_info info, const char *fn, int kind) {
  napi_value argv[1], out;
  cp_state *st;
  cp_sock *s;
  int64_t fd;
  if (!get_args(env, info, fn, 1, argv, &st)) return NULL;
  if (!arg_int(env, argv[0], fn, "fd", -1, INT32_MAX, &fd)) return NULL;
  s = sock_find(st, (int)fd);
  if (s && s->kind != kind) return throw_errno(env, EBADF, fn, "(fd is a different kind of carpool socket)");
  if (s) close_sock(env, st, s, false);
  NAPI_OK(napi_get_boolean(env, s != NULL, &out), fn);
  return out;
}

static napi_value raw_close(napi_env env, napi_callback_info info) { return close_kind(env, info, "rawClose", K_RAW); }

/* ------------------------------------------------------------------------------------ */
/* AF_PACKET frame sender                                                                 */

/* packetOpen(ifname) -> fd. Protocol 0: the socket receives nothing, it only sends. */
static napi_value packet_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  cp_state *st;
  char ifname[IFNAMSIZ + 64], base[IFNAMSIZ];
  int ifindex, fd;
  struct sockaddr_ll sll;
  if (!get_args(env, info, "packetOpen", 1, argv, &st)) return NULL;
  if (!arg_str(env, argv[0], "packetOpen", "ifname", ifname, sizeof ifname)) return NULL;
  if (!base_ifname(ifname, base)) return throw_arg(env, "packetOpen", "invalid interface name");
  ifindex = (int)if_nametoindex(base);
  if (!ifindex) return throw_errno(env, errno == ENXIO ? ENODEV : errno, "if_nametoindex", base);
  fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "(AF_PACKET, SOCK_RAW)");
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind(AF_PACKET)", base);
  }
  if (!sock_add(st, fd, K_PACKET, AF_PACKET, ifindex)) {
    close(fd);
    return throw_errno(env, ENOMEM, "packetOpen", NULL);
  }
  return make_int(env, fd);
}

/* packetSend(fd, ifindex, frame) -> bytes or -errno. ifindex 0 = the interface of packetOpen. */
static napi_value packet_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  cp_state *st;
  cp_sock *s;
  int64_t ifindex;
  const uint8_t *frame;
  size_t len;
  struct sockaddr_ll sll;
  ssize_t n;
  if (!get_args(env, info, "packetSend", 3, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "packetSend", K_PACKET))) return NULL;
  if (!arg_int(env, argv[1], "packetSend", "ifindex", 0, INT32_MAX, &ifindex)) return NULL;
  if (!arg_bytes(env, argv[2], "packetSend", "frame", &frame, &len)) return NULL;
  if (len < ETH_HLEN) return throw_arg(env, "packetSend", "frame shorter than an Ethernet header (14 bytes)");
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex ? (int)ifindex : s->ifindex;
  sll.sll_halen = ETH_ALEN;
  memcpy(sll.sll_addr, frame, ETH_ALEN);
  memcpy(&sll.sll_protocol, frame + 12, 2); /* EtherType, already network order */
  do {
    n = sendto(s->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sll, sizeof sll);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (send_errno_is_bug(errno)) return throw_errno(env, errno, "sendto(AF_PACKET)", NULL);
    return make_int(env, -errno);
  }
  return make_int(env, n);
}

static napi_value packet_close(napi_env env, napi_callback_info info) {
  return close_kind(env, info, "packetClose", K_PACKET);
}

/* ------------------------------------------------------------------------------------ */
/* interface facts                                                                        */

/* ifInfo(ifname) -> {index, name, mac, flags, up, running, mtu} | null */
static napi_value if_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, nul;
  cp_state *st;
  char ifname[IFNAMSIZ + 64], base[IFNAMSIZ], mac[18];
  unsigned index;
  struct ifreq ifr;
  int fd, flags, mtu;
  unsigned char *hw;
  if (!get_args(env, info, "ifInfo", 1, argv, &st)) return NULL;
  if (!arg_str(env, argv[0], "ifInfo", "ifname", ifname, sizeof ifname)) return NULL;
  NAPI_OK(napi_get_null(env, &nul), "ifInfo");
  if (!base_ifname(ifname, base)) return nul;
  index = if_nametoindex(base);
  if (!index) {
    if (errno == ENODEV || errno == ENXIO) return nul;
    return throw_errno(env, errno, "if_nametoindex", base);
  }
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "(AF_INET, SOCK_DGRAM)");
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, base, strlen(base) + 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) goto gone;
  flags = (unsigned short)ifr.ifr_flags;
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) goto gone;
  mtu = ifr.ifr_mtu;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) goto gone;
  close(fd);
  hw = (unsigned char *)ifr.ifr_hwaddr.sa_data;
  snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", hw[0], hw[1], hw[2], hw[3], hw[4], hw[5]);
  NAPI_OK(napi_create_object(env, &out), "ifInfo");
  set_prop_int(env, out, "index", index);
  set_prop_str(env, out, "name", base);
  set_prop_str(env, out, "mac", mac);
  set_prop_int(env, out, "hwType", ifr.ifr_hwaddr.sa_family);
  set_prop_int(env, out, "flags", flags);
  set_prop_bool(env, out, "up", (flags & IFF_UP) != 0);
  set_prop_bool(env, out, "running", (flags & IFF_RUNNING) != 0);
  set_prop_int(env, out, "mtu", mtu);
  return out;
gone: {
  int err = errno;
  close(fd);
  if (err == ENODEV || err == ENXIO) return nul; /* deleted between the two calls */
  return throw_errno(env, err, "ioctl(SIOCGIF*)", base);
}
}

/* ------------------------------------------------------------------------------------ */
/* rtnetlink requests                                                                     */

/* Request buffer; always addressed through `(struct nlmsghdr *)req.raw` so the compiler
 * knows attributes may follow the header. */
typedef union {
  struct nlmsghdr align;
  unsigned char raw[2048];
} nl_req;

static bool nl_attr(struct nlmsghdr *n, size_t cap, unsigned short type, const void *data, size_t len) {
  size_t alen = RTA_LENGTH(len);
  size_t newlen = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(alen);
  struct rtattr *rta;
  if (newlen > cap) return false;
  rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = (unsigned short)alen;
  if (len) memcpy(RTA_DATA(rta), data, len);
  n->nlmsg_len = (uint32_t)newlen;
  return true;
}

static bool nl_attr_u32(struct nlmsghdr *n, size_t cap, unsigned short type, uint32_t v) {
  return nl_attr(n, cap, type, &v, sizeof v);
}

static int nl_socket(void) {
  struct sockaddr_nl sa;
  int one = 1;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  /* Error ACKs need not echo the whole request back. */
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  return fd;
}

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* recv without blocking; if nothing is queued yet wait in poll() until deadline_ms. */
static ssize_t nl_recv(int fd, void *buf, size_t cap, int64_t deadline_ms) {
  for (;;) {
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
    {
      struct pollfd pfd = {.fd = fd, .events = POLLIN};
      int64_t left = deadline_ms - monotonic_ms();
      int rc;
      if (left <= 0) return -ETIMEDOUT;
      rc = poll(&pfd, 1, (int)left);
      if (rc == 0) return -ETIMEDOUT;
      if (rc < 0 && errno != EINTR) return -errno;
    }
  }
}

/* Send one request with NLM_F_ACK and return the kernel's verdict: 0 or -errno. */
static int nl_transact(cp_state *st, struct nlmsghdr *req) {
  char buf[8192];
  int fd = nl_socket();
  int64_t deadline;
  uint32_t seq = ++st->nl_seq;
  if (fd < 0) return fd;
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  req->nlmsg_seq = seq;
  if (send(fd, req, req->nlmsg_len, 0) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  deadline = monotonic_ms() + NL_ACK_TIMEOUT_MS;
  for (;;) {
    ssize_t n = nl_recv(fd, buf, sizeof buf, deadline);
    int len;
    if (n < 0) {
      close(fd);
      return (int)n;
    }
    len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        close(fd);
        return e->error;
      }
    }
  }
}

typedef bool (*nl_dump_cb)(napi_env env, struct nlmsghdr *h, void *ctx);

/* Dump request: calls cb per message until NLMSG_DONE. Returns 0 or -errno. */
static int nl_dump(napi_env env, cp_state *st, struct nlmsghdr *req, nl_dump_cb cb, void *ctx) {
  unsigned char *buf;
  int fd = nl_socket();
  int64_t deadline;
  uint32_t seq = ++st->nl_seq;
  int result = 0;
  if (fd < 0) return fd;
  buf = malloc(RX_BUF_SIZE);
  if (!buf) {
    close(fd);
    return -ENOMEM;
  }
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  req->nlmsg_seq = seq;
  if (send(fd, req, req->nlmsg_len, 0) < 0) {
    result = -errno;
    goto out;
  }
  deadline = monotonic_ms() + NL_ACK_TIMEOUT_MS;
  for (;;) {
    ssize_t n = nl_recv(fd, buf, RX_BUF_SIZE, deadline);
    int len;
    if (n < 0) {
      result = (int)n;
      goto out;
    }
    len = (int)n;
    deadline = monotonic_ms() + NL_ACK_TIMEOUT_MS; /* the limit is per chunk, not per dump */
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) goto out;
      if (h->nlmsg_type == NLMSG_ERROR) {
        result = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        goto out;
      }
      if (!cb(env, h, ctx)) {
        result = -ENOMEM;
        goto out;
      }
    }
  }
out:
  free(buf);
  close(fd);
  return result;
}

/* addrAdd(ifindex, family, address, prefix, {label?, broadcast?, nodad?, noprefixroute?, proto?}) -> 0 | -errno */
static napi_value addr_add_del(napi_env env, napi_callback_info info, bool add) {
  const char *fn = add ? "addrAdd" : "addrDel";
  napi_value argv[5], v;
  cp_state *st;
  int af;
  int64_t ifindex, prefix, proto = 0;
  unsigned char addr[16], brd[16];
  bool has_brd = false, has_proto = false, has_label = false, nodad = false, noprefixroute = false;
  char label[IFNAMSIZ + 1];
  nl_req req;
  struct nlmsghdr *nh = (struct nlmsghdr *)req.raw;
  struct ifaddrmsg *ifa;
  uint32_t flags = 0;
  int rc;
  size_t alen;
  if (!get_args_opt(env, info, fn, 4, 5, argv, &st)) return NULL;
  if (!arg_int(env, argv[0], fn, "ifindex", 1, INT32_MAX, &ifindex)) return NULL;
  if (!arg_family(env, argv[1], fn, &af)) return NULL;
  if (!arg_addr(env, argv[2], fn, "address", af, addr)) return NULL;
  if (!arg_int(env, argv[3], fn, "prefix", 0, af == AF_INET ? 32 : 128, &prefix)) return NULL;
  alen = af == AF_INET ? 4 : 16;
  if (add) {
    if (!opt_get(env, argv[4], "label", &v, &has_label)) return throw_napi(env, fn);
    if (has_label && !arg_str(env, v, fn, "label", label, IFNAMSIZ)) return NULL;
    if (!opt_addr(env, argv[4], fn, "broadcast", af, brd, &has_brd)) return NULL;
    if (!opt_bool(env, argv[4], fn, "nodad", &nodad)) return NULL;
    if (!opt_bool(env, argv[4], fn, "noprefixroute", &noprefixroute)) return NULL;
    if (!opt_int(env, argv[4], fn, "proto", 0, 255, &proto, &has_proto)) return NULL;
    if ((has_label || has_brd) && af != AF_INET) return throw_arg(env, fn, "label and broadcast are IPv4 only");
  }
  if (nodad) flags |= IFA_F_NODAD;
  if (noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
  for (int attempt = 0; attempt < 2; attempt++) {
    bool with_proto = add && has_proto && attempt == 0;
    memset(&req, 0, sizeof req);
    nh->nlmsg_len = NLMSG_LENGTH(sizeof *ifa);
    nh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
    nh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
    ifa = NLMSG_DATA(nh);
    ifa->ifa_family = (unsigned char)af;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_flags = (unsigned char)(flags & 0xff);
    /* Same default as iproute2: host scope for 127/8, universe otherwise (IPv6 derives its own). */
    ifa->ifa_scope = (af == AF_INET && addr[0] == 127) ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)ifindex;
    if (!nl_attr(nh, sizeof req, IFA_LOCAL, addr, alen) || !nl_attr(nh, sizeof req, IFA_ADDRESS, addr, alen) ||
        (add && flags && !nl_attr_u32(nh, sizeof req, IFA_FLAGS, flags)) ||
        (has_label && !nl_attr(nh, sizeof req, IFA_LABEL, label, strlen(label) + 1)) ||
        (has_brd && !nl_attr(nh, sizeof req, IFA_BROADCAST, brd, 4)))
      return throw_errno(env, EMSGSIZE, fn, "(request too large)");
    if (with_proto) {
      uint8_t p = (uint8_t)proto;
      if (!nl_attr(nh, sizeof req, CP_IFA_PROTO, &p, 1)) return throw_errno(env, EMSGSIZE, fn, NULL);
    }
    rc = nl_transact(st, nh);
    /* Kernels before 6.1 may refuse IFA_PROTO: add the address untagged rather than not at all. */
    if (with_proto && (rc == -EINVAL || rc == -EOPNOTSUPP)) continue;
    break;
  }
  return make_int(env, rc);
}

static napi_value addr_add(napi_env env, napi_callback_info info) { return addr_add_del(env, info, true); }
static napi_value addr_del(napi_env env, napi_callback_info info) { return addr_add_del(env, info, false); }

typedef struct {
  napi_value array;
  uint32_t count;
  int ifindex;
} addr_list_ctx;

static bool addr_list_one(napi_env env, struct nlmsghdr *h, void *arg) {
  addr_list_ctx *ctx = arg;
  napi_value obj;
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof *ifa)) return true;
  if (ctx->ifindex && (int)ifa->ifa_index != ctx->ifindex) return true;
  if (!build_addr(env, h, &obj)) return true;
  return napi_set_element(env, ctx->array, ctx->count++, obj) == napi_ok;
}

/* addrList(ifindex) -> [{ifindex, family, address, prefix, label, flags, proto, scope}]; ifindex 0 = all */
static napi_value addr_list(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  cp_state *st;
  int64_t ifindex;
  nl_req req;
  struct nlmsghdr *nh = (struct nlmsghdr *)req.raw;
  struct ifaddrmsg *ifa;
  addr_list_ctx ctx;
  int rc;
  if (!get_args(env, info, "addrList", 1, argv, &st)) return NULL;
  if (!arg_int(env, argv[0], "addrList", "ifindex", 0, INT32_MAX, &ifindex)) return NULL;
  memset(&req, 0, sizeof req);
  nh->nlmsg_len = NLMSG_LENGTH(sizeof *ifa);
  nh->nlmsg_type = RTM_GETADDR;
  ifa = NLMSG_DATA(nh);
  ifa->ifa_family = AF_UNSPEC;
  NAPI_OK(napi_create_array(env, &ctx.array), "addrList");
  ctx.count = 0;
  ctx.ifindex = (int)ifindex;
  rc = nl_dump(env, st, nh, addr_list_one, &ctx);
  if (rc < 0) return throw_errno(env, -rc, "addrList", "(RTM_GETADDR dump)");
  return ctx.array;
}

/* routeAdd/routeDel({family, dst, prefix, gateway?, ifindex?, table?, metric?, scope?, src?, proto?, type?}) -> 0 | -errno
   type: RTN_* (1 unicast default, 6 blackhole, 7 unreachable, 8 prohibit). */
static napi_value route_add_del(napi_env env, napi_callback_info info, bool add) {
  const char *fn = add ? "routeAdd" : "routeDel";
  napi_value argv[1], v;
  cp_state *st;
  int af;
  bool present, has_gw, has_oif, has_table, has_metric, has_scope, has_src, has_proto, has_type;
  int64_t prefix, oif = 0, table = RT_TABLE_MAIN, metric = 0, scope = 0, proto = 0, rtype = RTN_UNICAST;
  unsigned char dst[16], gw[16], src[16];
  size_t alen;
  nl_req req;
  struct nlmsghdr *nh = (struct nlmsghdr *)req.raw;
  struct rtmsg *rtm;
  if (!get_args(env, info, fn, 1, argv, &st)) return NULL;
  if (!is_type(env, argv[0], napi_object)) return throw_arg(env, fn, "options must be an object");
  if (!opt_get(env, argv[0], "family", &v, &present)) return throw_napi(env, fn);
  if (!present) return throw_arg(env, fn, "family is required");
  if (!arg_family(env, v, fn, &af)) return NULL;
  if (!opt_get(env, argv[0], "dst", &v, &present)) return throw_napi(env, fn);
  if (!present) return throw_arg(env, fn, "dst is required");
  if (!arg_addr(env, v, fn, "dst", af, dst)) return NULL;
  if (!opt_int(env, argv[0], fn, "prefix", 0, af == AF_INET ? 32 : 128, &prefix, &present)) return NULL;
  if (!present) return throw_arg(env, fn, "prefix is required");
  if (!opt_addr(env, argv[0], fn, "gateway", af, gw, &has_gw)) return NULL;
  if (!opt_int(env, argv[0], fn, "ifindex", 1, INT32_MAX, &oif, &has_oif)) return NULL;
  if (!opt_int(env, argv[0], fn, "table", 1, UINT32_MAX, &table, &has_table)) return NULL;
  if (!opt_int(env, argv[0], fn, "metric", 0, UINT32_MAX, &metric, &has_metric)) return NULL;
  if (!opt_int(env, argv[0], fn, "scope", 0, 255, &scope, &has_scope)) return NULL;
  if (!opt_addr(env, argv[0], fn, "src", af, src, &has_src)) return NULL;
  if (!opt_int(env, argv[0], fn, "proto", 0, 255, &proto, &has_proto)) return NULL;
  if (!opt_int(env, argv[0], fn, "type", 1, RTN_MAX, &rtype, &has_type)) return NULL;
  alen = af == AF_INET ? 4 : 16;
  memset(&req, 0, sizeof req);
  nh->nlmsg_len = NLMSG_LENGTH(sizeof *rtm);
  nh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
  nh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_REPLACE : 0;
  rtm = NLMSG_DATA(nh);
  rtm->rtm_family = (unsigned char)af;
  rtm->rtm_dst_len = (unsigned char)prefix;
  rtm->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
  rtm->rtm_type = (unsigned char)rtype;
  if (add) {
    /* Like `ip route add`: protocol boot, link scope for a device route without gateway. */
    rtm->rtm_protocol = has_proto ? (unsigned char)proto : RTPROT_BOOT;
    rtm->rtm_scope = has_scope ? (unsigned char)scope : (!has_gw && has_oif) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  } else {
    /* Deletion matches on what is given; NOWHERE/0 are wildcards for scope/protocol. */
    rtm->rtm_protocol = has_proto ? (unsigned char)proto : RTPROT_UNSPEC;
    rtm->rtm_scope = has_scope ? (unsigned char)scope : RT_SCOPE_NOWHERE;
  }
  if ((prefix > 0 && !nl_attr(nh, sizeof req, RTA_DST, dst, alen)) ||
      (has_gw && !nl_attr(nh, sizeof req, RTA_GATEWAY, gw, alen)) ||
      (has_oif && !nl_attr_u32(nh, sizeof req, RTA_OIF, (uint32_t)oif)) ||
      (!nl_attr_u32(nh, sizeof req, RTA_TABLE, (uint32_t)table)) ||
      (has_metric && !nl_attr_u32(nh, sizeof req, RTA_PRIORITY, (uint32_t)metric)) ||
      (has_src && !nl_attr(nh, sizeof req, RTA_PREFSRC, src, alen)))
    return throw_errno(env, EMSGSIZE, fn, "(request too large)");
  return make_int(env, nl_transact(st, nh));
}

static napi_value route_add(napi_env env, napi_callback_info info) { return route_add_del(env, info, true); }
static napi_value route_del(napi_env env, napi_callback_info info) { return route_add_del(env, info, false); }

/* linkMonitorOpen(callback, {rcvbuf?}) -> fd */
static napi_value link_monitor_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  cp_state *st;
  cp_sock *s;
  struct sockaddr_nl sa;
  int fd;
  int64_t rcvbuf = RAW_RCVBUF;
  bool has_rcvbuf;
  if (!get_args_opt(env, info, "linkMonitorOpen", 1, 2, argv, &st)) return NULL;
  if (!is_type(env, argv[0], napi_function)) return throw_arg(env, "linkMonitorOpen", "callback must be a function");
  if (!opt_int(env, argv[1], "linkMonitorOpen", "rcvbuf", 1024, 64 << 20, &rcvbuf, &has_rcvbuf)) return NULL;
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, errno, "socket", "(AF_NETLINK, NETLINK_ROUTE)");
  set_rcvbuf(fd, (int)rcvbuf);
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind(AF_NETLINK)", NULL);
  }
  if (!(s = sock_add(st, fd, K_MONITOR, AF_NETLINK, 0))) {
    close(fd);
    return throw_errno(env, ENOMEM, "linkMonitorOpen", NULL);
  }
  if (!start_poll(env, st, s, argv[0], "linkMonitorOpen", "carpool:linkmonitor")) {
    close_sock(env, st, s, false);
    return NULL;
  }
  return make_int(env, fd);
}

static napi_value link_monitor_close(napi_env env, napi_callback_info info) {
  return close_kind(env, info, "linkMonitorClose", K_MONITOR);
}

/* ------------------------------------------------------------------------------------ */
/* process helpers                                                                        */

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* setRealtime(priority) -> 0 | -errno; SCHED_RR for the calling (JS) thread, 0 = SCHED_OTHER.
 * With SCHED_RESET_ON_FORK: the scripts and agents it spawns run at normal priority. */
static napi_value set_realtime(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t prio;
  struct sched_param sp;
  if (!get_args(env, info, "setRealtime", 1, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "setRealtime", "priority", 0, 99, &prio)) return NULL;
  memset(&sp, 0, sizeof sp);
  sp.sched_priority = (int)prio;
  if (sched_setscheduler(0, prio ? SCHED_RR | SCHED_RESET_ON_FORK : SCHED_OTHER, &sp) < 0) return make_int(env, -errno);
  return make_int(env, 0);
}

/* mlockAll() -> 0 | -errno. Beware: Linux refuses MADV_DONTNEED on locked mappings (EINVAL)
 * and V8 treats a failed discard of freed code pages as fatal, so a locked Node process
 * must munlockAll() before V8 tears its heap down (see src/net/realtime.ts). */
static napi_value mlock_all(napi_env env, napi_callback_info info) {
  (void)info;
  if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0) return make_int(env, -errno);
  return make_int(env, 0);
}

/* munlockAll() -> 0 | -errno */
static napi_value munlock_all(napi_env env, napi_callback_info info) {
  (void)info;
  if (munlockall() < 0) return make_int(env, -errno);
  return make_int(env, 0);
}

/* ------------------------------------------------------------------------------------ */
/* AF_UNIX datagram client (syslog)                                                       */

/* unixDgramOpen(path) -> fd; a leading '@' names an abstract socket. */
static napi_value unix_dgram_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  cp_state *st;
  struct sockaddr_un sun;
  char path[sizeof sun.sun_path + 1];
  socklen_t len;
  int fd;
  if (!get_args(env, info, "unixDgramOpen", 1, argv, &st)) return NULL;
  if (!arg_str(env, argv[0], "unixDgramOpen", "path", path, sizeof sun.sun_path)) return NULL;
  if (!path[0]) return throw_arg(env, "unixDgramOpen", "path must not be empty");
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, strlen(path));
  len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
  if (path[0] == '@') sun.sun_path[0] = 0;
  else len += 1;
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "(AF_UNIX, SOCK_DGRAM)");
  if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "connect", path);
  }
  if (!sock_add(st, fd, K_UNIX, AF_UNIX, 0)) {
    close(fd);
    return throw_errno(env, ENOMEM, "unixDgramOpen", NULL);
  }
  return make_int(env, fd);
}

/* unixDgramSend(fd, data) -> bytes | -errno (never blocks: a full receiver gives -EAGAIN) */
static napi_value unix_dgram_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  cp_state *st;
  cp_sock *s;
  const uint8_t *data;
  size_t len;
  ssize_t n;
  if (!get_args(env, info, "unixDgramSend", 2, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "unixDgramSend", K_UNIX))) return NULL;
  if (!arg_bytes(env, argv[1], "unixDgramSend", "data", &data, &len)) return NULL;
  do {
    n = send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (send_errno_is_bug(errno)) return throw_errno(env, errno, "send(AF_UNIX)", NULL);
    return make_int(env, -errno);
  }
  return make_int(env, n);
}

static napi_value unix_dgram_close(napi_env env, napi_callback_info info) {
  return close_kind(env, info, "unixDgramClose", K_UNIX);
}

/* ------------------------------------------------------------------------------------ */
/* module                                                                                 */

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"rawOpen", raw_open},
      {"rawBind", raw_bind},
      {"rawJoin", raw_join},
      {"rawLeave", raw_leave},
      {"rawSetChecksumOffset", raw_set_checksum_offset},
      {"rawSend", raw_send},
      {"rawStart", raw_start},
      {"rawStop", raw_stop},
      {"rawClose", raw_close},
      {"packetOpen", packet_open},
      {"packetSend", packet_send},
      {"packetClose", packet_close},
      {"ifInfo", if_info},
      {"addrAdd", addr_add},
      {"addrDel", addr_del},
      {"addrList", addr_list},
      {"routeAdd", route_add},
      {"routeDel", route_del},
      {"linkMonitorOpen", link_monitor_open},
      {"linkMonitorClose", link_monitor_close},
      {"setRealtime", set_realtime},
      {"mlockAll", mlock_all},
      {"munlockAll", munlock_all},
      {"unixDgramOpen", unix_dgram_open},
      {"unixDgramSend", unix_dgram_send},
      {"unixDgramClose", unix_dgram_close},
  };
  cp_state *st = calloc(1, sizeof *st);
  if (!st || !(st->rxbuf = malloc(RX_BUF_SIZE))) {
    free(st);
    napi_throw_error(env, "ENOMEM", "carpool_net: out of memory");
    return NULL;
  }
  st->env = env;
  st->nl_seq = (uint32_t)time(NULL);
  if (napi_get_uv_event_loop(env, &st->loop) != napi_ok || napi_add_env_cleanup_hook(env, cleanup_hook, st) != napi_ok) {
    free(st->rxbuf);
    free(st);
    return throw_napi(env, "carpool_net init");
  }
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, st, &f) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
      return throw_napi(env, "carpool_net init");
  }
  return exports;
}
