/*
 * Link monitor: one netlink socket subscribed to link and address changes, delivered to a
 * JS callback as {type:'link'|'addr'|'overrun', ...}. An overrun means the kernel dropped
 * notifications (receive buffer full); the listener resynchronises from a dump.
 */
#include "carpool_net.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

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

static void call_event(napi_env env, napi_value recv, napi_value cb, napi_value ev) {
  napi_call_function(env, recv, cb, 1, &ev, NULL);
  report_callback_exception(env);
}

/* Read one netlink datagram (it may batch several messages) and call the callback once per
 * link or address message; everything else the groups carry is ignored. */
static int monitor_read_one(napi_env env, cp_sock *s, napi_value recv, napi_value cb) {
  unsigned char *buf = s->state->rxbuf;
  ssize_t n = recv_from_kernel(s);
  int len;
  if (n == -EAGAIN || n == -EWOULDBLOCK) return 0;
  if (n == -ENOBUFS) {
    /* The kernel dropped notifications: the listener must resynchronise from a dump. */
    napi_value ev;
    if (napi_create_object(env, &ev) == napi_ok) {
      set_prop_str(env, ev, "type", "overrun");
      call_event(env, recv, cb, ev);
    }
  }
  if (n <= 0) return 1;
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

const cp_kind cp_kind_monitor = {"linkMonitorOpen", "carpool:linkmonitor", monitor_read_one};

/* linkMonitorOpen(callback, {rcvbuf?}) -> fd */
napi_value link_monitor_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  cp_state *st;
  int64_t rcvbuf = RAW_RCVBUF;
  bool has_rcvbuf;
  if (!get_args_opt(env, info, "linkMonitorOpen", 1, 2, argv, &st)) return NULL;
  if (!is_type(env, argv[0], napi_function)) return throw_arg(env, "linkMonitorOpen", "callback must be a function");
  if (!opt_int(env, argv[1], "linkMonitorOpen", "rcvbuf", 1024, 64 << 20, &rcvbuf, &has_rcvbuf)) return NULL;
  return netlink_listen(env, st, NETLINK_ROUTE, "NETLINK_ROUTE", RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, (int)rcvbuf,
                        &cp_kind_monitor, argv[0]);
}

napi_value link_monitor_close(napi_env env, napi_callback_info info) {
  return close_kind(env, info, "linkMonitorClose", &cp_kind_monitor);
}
