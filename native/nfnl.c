/*
 * NETLINK_NETFILTER: send one buffer (a batch the TypeScript codec built, src/balancer/core/
 * nfnl.ts) and collect the kernel's answers. Generic: nothing here knows nf_tables. The
 * kernel processes an nfnetlink batch inside sendmsg() and queues one NLMSG_ERROR (an ack
 * with error 0, or the message's error) per message that asked for an ack or failed; the
 * only wait is a poll() bounded by the caller's timeout.
 */
#include "carpool_net.h"

#include <linux/netlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* nfnlSend(bytes, expect, timeoutMs) -> {sent: -errno or 0, recv: -errno or 0, replies: [{seq, error}]}: replies
 * are the NLMSG_ERROR messages (error 0 = ack, else -errno) in arrival order; it stops after
 * `expect` of them or at the timeout (the caller sees fewer). */
napi_value nfnl_send(napi_env env, napi_callback_info info) {
  napi_value argv[3], out, replies, v;
  cp_state *st;
  const uint8_t *data;
  size_t len;
  int64_t expect, timeout_ms, deadline;
  uint32_t count = 0;
  int fd, one = 1, sent = 0, rerr = 0;
  struct sockaddr_nl sa;
  unsigned char *buf;
  if (!get_args(env, info, "nfnlSend", 3, argv, &st)) return NULL;
  if (!arg_bytes(env, argv[0], "nfnlSend", "bytes", &data, &len)) return NULL;
  if (!arg_int(env, argv[1], "nfnlSend", "expect", 0, 1 << 20, &expect)) return NULL;
  if (!arg_int(env, argv[2], "nfnlSend", "timeoutMs", 0, 60000, &timeout_ms)) return NULL;
  NAPI_OK(napi_create_array(env, &replies), "nfnlSend");
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return throw_errno(env, errno, "socket", "(NETLINK_NETFILTER)");
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", "(NETLINK_NETFILTER)");
  }
  /* Error messages carry only the failing message's header, not the whole request. */
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  /* Every message of the batch is answered before sendmsg() returns: room for a few thousand
   * answers (as root past rmem_max; otherwise what rmem_max allows). */
  {
    int rcv = NFNL_RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  }
  /* The whole batch is one sendto(): the kernel refuses (EMSGSIZE) one larger than the send
   * buffer, and a batch with new chains, rules and elements can pass the default. */
  {
    int snd = (int)(len + 4096 < NFNL_RCVBUF ? len + 4096 : NFNL_RCVBUF);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  }
  buf = malloc(65536);
  if (!buf) {
    close(fd);
    return throw_errno(env, ENOMEM, "nfnlSend", NULL);
  }
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof sa) < 0) sent = errno;
  deadline = nfnl_now_ms() + timeout_ms;
  while (!sent && count < (uint32_t)expect) {
    ssize_t n = recv(fd, buf, 65536, MSG_DONTWAIT);
    int left;
    if (n < 0) {
      struct pollfd pfd = {.fd = fd, .events = POLLIN};
      int64_t wait = deadline - nfnl_now_ms();
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        rerr = errno;
        break;
      }
      if (wait <= 0 || poll(&pfd, 1, (int)wait) == 0) break;
      continue;
    }
    left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)left); h = NLMSG_NEXT(h, left)) {
      napi_value r, x;
      if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) continue;
      NAPI_OK(napi_create_object(env, &r), "nfnlSend");
      NAPI_OK(napi_create_uint32(env, ((struct nlmsgerr *)NLMSG_DATA(h))->msg.nlmsg_seq, &x), "nfnlSend");
      NAPI_OK(napi_set_named_property(env, r, "seq", x), "nfnlSend");
      NAPI_OK(napi_create_int32(env, ((struct nlmsgerr *)NLMSG_DATA(h))->error, &x), "nfnlSend");
      NAPI_OK(napi_set_named_property(env, r, "error", x), "nfnlSend");
      NAPI_OK(napi_set_element(env, replies, count++, r), "nfnlSend");
    }
  }
  free(buf);
  close(fd);
  NAPI_OK(napi_create_object(env, &out), "nfnlSend");
  NAPI_OK(napi_create_int32(env, -sent, &v), "nfnlSend");
  NAPI_OK(napi_set_named_property(env, out, "sent", v), "nfnlSend");
  NAPI_OK(napi_set_named_property(env, out, "replies", replies), "nfnlSend");
  NAPI_OK(napi_create_int32(env, -rerr, &v), "nfnlSend");
  NAPI_OK(napi_set_named_property(env, out, "recv", v), "nfnlSend");
  return out;
}
