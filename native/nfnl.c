/*
 * NETLINK_NETFILTER: send one buffer (a batch the TypeScript codec built, src/balancer/core/
 * nfnl.ts) and collect the kernel's answers. Generic: nothing here knows nf_tables. The
 * kernel processes an nfnetlink batch inside sendmsg() and queues one NLMSG_ERROR (an ack
 * with error 0, or the message's error) per message that asked for an ack or failed; the
 * only wait is a poll() bounded by the caller's timeout.
 *
 * The socket is kept from one batch to the next: closing a NETLINK_NETFILTER socket makes
 * nf_tables flush its pending destroy work, an RCU grace period after a batch that deleted
 * anything (6 ms measured on the event loop per update). A batch sent while the kept socket
 * is in use, or from another network namespace, gets a socket of its own, closed on the
 * worker thread.
 */
#include "carpool_net.h"

#include <linux/netlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NFNL_RCVBUF (4 << 20)

#ifndef NETLINK_NETFILTER
#define NETLINK_NETFILTER 12
#endif

static int64_t nfnl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One batch in flight: the socket is made on the JS thread (so it belongs to the daemon's
 * network namespace, whatever namespace libuv's worker threads were started in); sendto() and
 * the wait for the answers run on a worker thread, so the kernel's commit (1-25 ms measured)
 * never holds the event loop. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  cp_state *st;
  int fd;
  bool kept; /* fd is st->nfnl_fd (else the job's own, closed when it ends) */
  uint8_t *data;
  size_t len;
  int64_t expect, timeout_ms;
  int sent, rerr;
  uint32_t count;
  struct { uint32_t seq; int32_t error; } *replies;
} nfnl_job;

static void nfnl_execute(napi_env env, void *arg) {
  nfnl_job *j = arg;
  struct sockaddr_nl sa;
  int64_t deadline;
  unsigned char *buf = malloc(65536);
  (void)env;
  if (!buf) {
    j->rerr = ENOMEM;
    return;
  }
  /* Answers left from an earlier batch that timed out are not this batch's. */
  while (j->kept && recv(j->fd, buf, 65536, MSG_DONTWAIT) > 0) {
  }
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (sendto(j->fd, j->data, j->len, 0, (struct sockaddr *)&sa, sizeof sa) < 0) j->sent = errno;
  deadline = nfnl_now_ms() + j->timeout_ms;
  while (!j->sent && j->count < (uint32_t)j->expect) {
    ssize_t n = recv(j->fd, buf, 65536, MSG_DONTWAIT);
    int left;
    if (n < 0) {
      struct pollfd pfd = {.fd = j->fd, .events = POLLIN};
      int64_t wait = deadline - nfnl_now_ms();
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        j->rerr = errno;
        break;
      }
      if (wait <= 0 || poll(&pfd, 1, (int)wait) == 0) break;
      continue;
    }
    left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) continue;
      if (j->count >= (uint32_t)j->expect) break;
      j->replies[j->count].seq = ((struct nlmsgerr *)NLMSG_DATA(h))->msg.nlmsg_seq;
      j->replies[j->count].error = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      j->count++;
    }
  }
  free(buf);
  if (!j->kept) {
    close(j->fd);
    j->fd = -1;
  }
}

static void nfnl_job_free(napi_env env, nfnl_job *j) {
  if (j->work) napi_delete_async_work(env, j->work);
  if (j->kept) j->st->nfnl_busy = false;
  else if (j->fd >= 0) close(j->fd);
  free(j->data);
  free(j->replies);
  free(j);
}

static bool nfnl_result(napi_env env, nfnl_job *j, napi_value *out) {
  napi_value replies, v;
  if (napi_create_array(env, &replies) != napi_ok || napi_create_object(env, out) != napi_ok) return false;
  for (uint32_t i = 0; i < j->count; i++) {
    napi_value r;
    if (napi_create_object(env, &r) != napi_ok) return false;
    set_prop_int(env, r, "seq", j->replies[i].seq);
    set_prop_int(env, r, "error", j->replies[i].error);
    if (napi_set_element(env, replies, i, r) != napi_ok) return false;
  }
  if (napi_create_int32(env, -j->sent, &v) != napi_ok || napi_set_named_property(env, *out, "sent", v) != napi_ok) return false;
  if (napi_set_named_property(env, *out, "replies", replies) != napi_ok) return false;
  return napi_create_int32(env, -j->rerr, &v) == napi_ok && napi_set_named_property(env, *out, "recv", v) == napi_ok;
}

static void nfnl_complete(napi_env env, napi_status status, void *arg) {
  nfnl_job *j = arg;
  napi_value out, err;
  if (status == napi_ok && nfnl_result(env, j, &out)) {
    napi_resolve_deferred(env, j->deferred, out);
  } else {
    napi_value code, msg;
    napi_create_string_utf8(env, "EIO", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "nfnlSend: the batch's answers could not be returned", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  nfnl_job_free(env, j);
}

/* A bound NETLINK_NETFILTER socket in the calling thread's network namespace: NULL, or the
 * syscall that failed (errno set). */
static const char *nfnl_open(int *out) {
  struct sockaddr_nl sa;
  int one = 1, rcv = NFNL_RCVBUF;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return "socket";
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return "bind";
  }
  /* Error messages carry only the failing message's header, not the whole request. */
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  /* Every message of the batch is answered before sendmsg() returns: room for a few thousand
   * answers (as root past rmem_max; otherwise what rmem_max allows). */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  *out = fd;
  return NULL;
}

/* Environment teardown: the kept socket goes. */
void nfnl_cleanup(cp_state *st) {
  if (st->nfnl_fd >= 0) close(st->nfnl_fd);
  st->nfnl_fd = -1;
}

/* nfnlSend(bytes, expect, timeoutMs) -> Promise<{sent: -errno or 0, recv: -errno or 0, replies: [{seq, error}]}>:
 * replies are the NLMSG_ERROR messages (error 0 = ack, else -errno) in arrival order; it stops
 * after `expect` of them or at the timeout (the caller sees fewer). Bad arguments and a socket
 * that cannot be made throw at once. */
napi_value nfnl_send(napi_env env, napi_callback_info info) {
  napi_value argv[3], promise, name;
  cp_state *st;
  const uint8_t *data;
  size_t len;
  int64_t expect, timeout_ms;
  nfnl_job *j;
  if (!get_args(env, info, "nfnlSend", 3, argv, &st)) return NULL;
  if (!arg_bytes(env, argv[0], "nfnlSend", "bytes", &data, &len)) return NULL;
  if (!arg_int(env, argv[1], "nfnlSend", "expect", 0, 1 << 20, &expect)) return NULL;
  if (!arg_int(env, argv[2], "nfnlSend", "timeoutMs", 0, 60000, &timeout_ms)) return NULL;
  j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, ENOMEM, "nfnlSend", NULL);
  j->fd = -1;
  j->expect = expect;
  j->timeout_ms = timeout_ms;
  j->data = malloc(len ? len : 1);
  j->replies = calloc(expect ? (size_t)expect : 1, sizeof *j->replies);
  if (!j->data || !j->replies) {
    nfnl_job_free(env, j);
    return throw_errno(env, ENOMEM, "nfnlSend", NULL);
  }
  if (len) memcpy(j->data, data, len);
  j->len = len;
  j->st = st;
  {
    struct stat ns;
    bool same_ns = stat("/proc/thread-self/ns/net", &ns) == 0;
    const char *failed = NULL;
    if (same_ns && st->nfnl_fd >= 0 && (ns.st_dev != st->nfnl_ns_dev || ns.st_ino != st->nfnl_ns_ino)) {
      /* The JS thread moved to another namespace: the kept socket is the old one's. */
      if (!st->nfnl_busy) {
        close(st->nfnl_fd);
        st->nfnl_fd = -1;
      }
      same_ns = false;
    }
    if (same_ns && st->nfnl_fd < 0 && !(failed = nfnl_open(&st->nfnl_fd))) {
      st->nfnl_ns_dev = ns.st_dev;
      st->nfnl_ns_ino = ns.st_ino;
    }
    if (same_ns && st->nfnl_fd >= 0 && !st->nfnl_busy) {
      j->fd = st->nfnl_fd;
      j->kept = true;
      st->nfnl_busy = true;
    } else if ((failed = nfnl_open(&j->fd))) {
      int err = errno;
      nfnl_job_free(env, j);
      return throw_errno(env, err, failed, "(NETLINK_NETFILTER)");
    }
  }
  /* The whole batch is one sendto(): the kernel refuses (EMSGSIZE) one larger than the send
   * buffer, and a batch with new chains, rules and elements can pass the default. */
  {
    int snd = (int)(len + 4096 < NFNL_RCVBUF ? len + 4096 : NFNL_RCVBUF);
    if (setsockopt(j->fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) < 0) setsockopt(j->fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  }
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "carpool:nfnlSend", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, nfnl_execute, nfnl_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    /* A promise already made is left pending: nothing else can be done with it here. */
    nfnl_job_free(env, j);
    return throw_napi(env, "nfnlSend");
  }
  return promise;
}
