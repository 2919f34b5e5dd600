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
 *  - Every fd the addon hands out is registered per environment (sock_publish in sock.c is
 *    the only way a new fd reaches JS); functions that take an fd only accept registered
 *    fds of the right kind (EBADF otherwise), so a double close can never close an
 *    unrelated descriptor that reused the number.
 *  - Runtime send failures (ENOBUFS, ENETDOWN, ...) are returned as -errno; exceptions are
 *    thrown for programming errors (bad arguments, unknown fd) and failed opens.
 *  - Exceptions thrown by a JS receive callback are caught, cleared and passed to
 *    process.emitWarning(); receiving continues with the next datagram.
 *
 * Files (shared declarations in carpool_net.h):
 *   carpool_net.c  this file: per-environment state and the table of exported functions
 *   js.c           JS <-> C: errors with errno names, argument checking, result values
 *   sock.c         fd registry, publishing a new fd, send results, uv_poll receive, close
 *   raw.c          raw IP sockets (CARP/VRRP adverts), receive path with IP(V6)_PKTINFO
 *   packet.c       AF_PACKET frame sender, interface facts (ifInfo)
 *   rtnl.c         rtnetlink: addresses, routes and rules
 *   monitor.c      rtnetlink link and address notifications
 *   unix_dgram.c   AF_UNIX datagram client (syslog)
 *   process.c      SCHED_RR and memory locking
 */
#include "carpool_net.h"

#include <stdlib.h>
#include <time.h>

/* Environment teardown (process exit, worker end): close every handle and fd. */
static void cleanup_hook(void *arg) {
  cp_state *st = arg;
  while (st->socks) close_sock(st->env, st, st->socks, true);
  nfnl_cleanup(st);
  free(st->rxbuf);
  free(st);
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
      {"ruleAdd", rule_add},
      {"ruleDel", rule_del},
      {"nfnlSend", nfnl_send},
      {"linkMonitorOpen", link_monitor_open},
      {"linkMonitorClose", link_monitor_close},
      {"ctEventsOpen", ct_events_open},
      {"ctEventsClose", ct_events_close},
      {"setRealtime", set_realtime},
      {"setNetns", set_netns},
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
  st->nfnl_fd = -1;
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
