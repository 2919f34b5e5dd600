/*
 * What every socket kind shares: the registry of fds handed out to JS, the one way to
 * publish a freshly opened fd, send results, receiving with uv_poll on the Node loop, and
 * closing. The kinds (raw.c, packet.c, monitor.c, unix_dgram.c) only open and configure
 * their socket, and read one datagram when asked.
 */
#include "carpool_net.h"

#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DISPATCH_BUDGET 1024   /* datagrams per wake-up; the level-triggered poll wakes again */

/* uv close callback that lives outside this addon (see stop_poll); the handle pointer is
 * the malloc'ed block. The detour through void (*)(void) keeps -Wcast-function-type quiet. */
#define FREE_ON_CLOSE ((uv_close_cb)(void (*)(void))free)

/* ------------------------------------------------------------------------------------ */
/* fd registry                                                                          */

cp_sock *sock_find(cp_state *st, int fd) {
  for (cp_sock *s = st->socks; s; s = s->next)
    if (s->fd == fd) return s;
  return NULL;
}

static cp_sock *sock_add(cp_state *st, int fd, const cp_kind *kind, int family, int ifindex) {
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
cp_sock *arg_sock(napi_env env, cp_state *st, napi_value v, const char *fn, const cp_kind *kind) {
  int64_t fd;
  cp_sock *s;
  if (!arg_int(env, v, fn, "fd", 0, INT32_MAX, &fd)) return NULL;
  s = sock_find(st, (int)fd);
  if (!s || s->kind != kind) {
    throw_errno(env, EBADF, fn, "(not an open carpool socket of this kind)");
    return NULL;
  }
  return s;
}

/* ------------------------------------------------------------------------------------ */
/* opening and sending                                                                  */

/* The common end of every opener: register the fresh socket `fd` as `kind` and, when a
 * `callback` is given, start receiving into it. Returns the fd as a JS number. On failure
 * the fd is closed (it never reached JS) and a JS exception is pending: NULL. */
napi_value sock_publish(napi_env env, cp_state *st, int fd, const cp_kind *kind, int family, int ifindex,
                        napi_value callback) {
  cp_sock *s = sock_add(st, fd, kind, family, ifindex);
  if (!s) {
    close(fd);
    return throw_errno(env, ENOMEM, kind->opener, NULL);
  }
  if (callback && !start_poll(env, st, s, callback, kind->opener)) {
    close_sock(env, st, s, false);
    return NULL;
  }
  return make_int(env, fd);
}

/* Setting up a fresh socket failed in `syscall`: close it and throw that errno (read before
 * close() can change it). Returns NULL. */
napi_value sock_fail(napi_env env, int fd, const char *syscall, const char *detail) {
  int err = errno;
  close(fd);
  return throw_errno(env, err, syscall, detail);
}

int set_int_opt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

void set_rcvbuf(int fd, int bytes) {
  /* SO_RCVBUFFORCE ignores net.core.rmem_max when privileged; fall back quietly. */
  if (set_int_opt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes) < 0) set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, bytes);
}

/* Errors of a send that mean the caller passed something wrong rather than the network being unhappy. */
static bool send_errno_is_bug(int err) {
  return err == EBADF || err == ENOTSOCK || err == EFAULT || err == EDESTADDRREQ;
}

/* Result of a non-blocking send (n from send/sendto/sendmsg, errno untouched since): bytes
 * sent, or -errno when the network refuses (ENOBUFS, EAGAIN, ENETDOWN, ...): a result
 * for the caller, not an exception. Errors that mean a bug in the caller throw instead. */
napi_value send_result(napi_env env, ssize_t n, const char *syscall) {
  if (n < 0) {
    if (send_errno_is_bug(errno)) return throw_errno(env, errno, syscall, NULL);
    return make_int(env, -errno);
  }
  return make_int(env, n);
}

/* ------------------------------------------------------------------------------------ */
/* receiving with uv_poll                                                               */

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
void stop_poll(napi_env env, cp_sock *s, bool teardown) {
  cp_poll *p = s->poll;
  if (!p) return;
  s->poll = NULL;
  p->sock = NULL;
  p->stopped = true;
  uv_poll_stop(&p->handle);
  uv_close((uv_handle_t *)&p->handle, FREE_ON_CLOSE);
  if (!teardown && !p->in_dispatch) poll_release_js(env, p);
}

/* Last-resort handling of an exception thrown by a receive callback: clear it and hand it
 * to process.emitWarning() so it is visible but cannot kill the daemon's receive path. */
void report_callback_exception(napi_env env) {
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

/* Common poll callback body: scopes, budget, exception handling; `one` is the kind's reader. */
static void dispatch(cp_poll *p, cp_read_fn one) {
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

static void on_poll_event(uv_poll_t *h, int status, int events) {
  cp_poll *p = (cp_poll *)h;
  (void)events;
  if (!p->sock || p->stopped) return;
  dispatch(p, p->sock->kind->read_one);
  /* On POLLERR libuv stops the handle and reports UV_EBADF. The socket is fine: a pending
   * socket error (netlink ENOBUFS overrun, ICMP error) was just consumed by recvmsg in
   * dispatch(), so listen again instead of going deaf. */
  if (status < 0 && !p->stopped) uv_poll_start(&p->handle, UV_READABLE, on_poll_event);
}

/* Begin polling s for readability; each wake-up runs the kind's reader with `callback`. */
napi_value start_poll(napi_env env, cp_state *st, cp_sock *s, napi_value callback, const char *fn) {
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
      napi_create_string_utf8(env, s->kind->resource, NAPI_AUTO_LENGTH, &name) != napi_ok ||
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

/* ------------------------------------------------------------------------------------ */
/* closing                                                                              */

void close_sock(napi_env env, cp_state *st, cp_sock *s, bool teardown) {
  stop_poll(env, s, teardown);
  sock_unlink(st, s);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  sock_unref(s);
}

/* Close a registered fd of `kind`: idempotent, returns true when something was closed. */
napi_value close_kind(napi_env env, napi_callback_info info, const char *fn, const cp_kind *kind) {
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

ssize_t recv_from_kernel(cp_sock *s) {
  struct sockaddr_nl from;
  struct iovec iov = {.iov_base = s->state->rxbuf, .iov_len = RX_BUF_SIZE};
  struct msghdr msg;
  ssize_t n;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  n = recvmsg(s->fd, &msg, MSG_DONTWAIT);
  if (n < 0) return -errno;
  return from.nl_pid != 0 ? 0 : n;
}

napi_value netlink_listen(napi_env env, cp_state *st, int protocol, const char *name, uint32_t groups, int rcvbuf,
                          const cp_kind *kind, napi_value callback) {
  struct sockaddr_nl sa;
  char what[64];
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    snprintf(what, sizeof what, "(AF_NETLINK, %s)", name);
    return throw_errno(env, errno, "socket", what);
  }
  set_rcvbuf(fd, rcvbuf);
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;
  snprintf(what, sizeof what, "bind(%s)", name);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return sock_fail(env, fd, what, NULL);
  return sock_publish(env, st, fd, kind, AF_NETLINK, 0, callback);
}
