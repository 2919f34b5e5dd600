/*
 * Conntrack events: a NETLINK_NETFILTER socket bound to the groups the caller names (the
 * balancer: NFNLGRP_CONNTRACK_DESTROY), each datagram handed to JS as bytes; the TypeScript
 * codec (src/balancer/core/ctevents.ts) decodes them. An overrun (ENOBUFS: the kernel dropped
 * events, the receive buffer was full) is delivered as null so the caller can count it.
 */
#include "carpool_net.h"

#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>

#ifndef NETLINK_NETFILTER
#define NETLINK_NETFILTER 12
#endif

static int ctevents_read_one(napi_env env, cp_sock *s, napi_value recv, napi_value cb) {
  napi_value arg;
  ssize_t n = recv_from_kernel(s);
  if (n == -EAGAIN || n == -EWOULDBLOCK) return 0;
  if (n == -ENOBUFS && napi_get_null(env, &arg) == napi_ok) napi_call_function(env, recv, cb, 1, &arg, NULL);
  if (n <= 0) return 1;
  if (napi_create_buffer_copy(env, (size_t)n, s->state->rxbuf, NULL, &arg) != napi_ok) return 1;
  napi_call_function(env, recv, cb, 1, &arg, NULL);
  return 1;
}

const cp_kind cp_kind_ctevents = {"ctEventsOpen", "carpool:ctevents", ctevents_read_one};

/* ctEventsOpen(groups, callback, {rcvbuf?}) -> fd; groups = the nl_groups bit mask. */
napi_value ct_events_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  cp_state *st;
  int64_t groups, rcvbuf = 8 << 20;
  bool has_rcvbuf;
  if (!get_args_opt(env, info, "ctEventsOpen", 2, 3, argv, &st)) return NULL;
  if (!arg_int(env, argv[0], "ctEventsOpen", "groups", 1, UINT32_MAX, &groups)) return NULL;
  if (!is_type(env, argv[1], napi_function)) return throw_arg(env, "ctEventsOpen", "callback must be a function");
  if (!opt_int(env, argv[2], "ctEventsOpen", "rcvbuf", 1024, 256 << 20, &rcvbuf, &has_rcvbuf)) return NULL;
  return netlink_listen(env, st, NETLINK_NETFILTER, "NETLINK_NETFILTER", (uint32_t)groups, (int)rcvbuf, &cp_kind_ctevents, argv[1]);
}

napi_value ct_events_close(napi_env env, napi_callback_info info) {
  return close_kind(env, info, "ctEventsClose", &cp_kind_ctevents);
}
