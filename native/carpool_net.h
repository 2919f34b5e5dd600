/*
 * Shared declarations of the carpool_net addon (see carpool_net.c for the rules every file
 * keeps). One header for all files: the addon is small enough that a reader should find
 * every cross-file name in one place, grouped by the file that defines it.
 */
#ifndef CARPOOL_NET_H
#define CARPOOL_NET_H

#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RX_BUF_SIZE 65536      /* one IPv4 datagram can be 65535 bytes */
#define RAW_RCVBUF (256 * 1024)
#define IFNAME_ARG_MAX (IFNAMSIZ + 64) /* room for "eth0:label" as JS may pass it */

struct cp_state;
struct cp_sock;

/* Reads one datagram from s, calls the JS callback for it and returns 1, or returns 0 when
 * the socket is drained. Runs inside the handle and callback scopes of dispatch(). */
typedef int (*cp_read_fn)(napi_env env, struct cp_sock *s, napi_value recv, napi_value cb);

/* What differs between the kinds of socket the addon hands out. The registry, polling and
 * closing code in sock.c is shared and asks only this. Kinds are compared by address: an
 * fd opened as one kind is refused (EBADF) by the functions of another. */
typedef struct cp_kind {
  const char *opener;   /* JS function that opens it, named in its errors */
  const char *resource; /* async resource name of its receive callbacks (async_hooks) */
  cp_read_fn read_one;  /* receive path; NULL for a kind that only sends */
} cp_kind;

extern const cp_kind cp_kind_raw, cp_kind_packet, cp_kind_monitor, cp_kind_unix, cp_kind_ctevents;

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
  const cp_kind *kind;
  int family; /* AF_INET / AF_INET6 for raw sockets */
  int ifindex;
  int refs;
  cp_poll *poll;
} cp_sock;

/* Per N-API environment (main thread or worker); passed to every function as its data. */
typedef struct cp_state {
  napi_env env;
  uv_loop_t *loop;
  cp_sock *socks;
  unsigned char *rxbuf; /* RX_BUF_SIZE bytes shared by all receive paths (one JS thread) */
  uint32_t nl_seq;
  /* nfnl.c: the NETLINK_NETFILTER socket kept for batches (-1: none yet), the network
   * namespace it was made in, and whether a batch on a worker thread is using it. */
  int nfnl_fd;
  dev_t nfnl_ns_dev;
  ino_t nfnl_ns_ino;
  bool nfnl_busy;
} cp_state;

/* ---- js.c: errors, arguments and result values ----------------------------------------- */

/* All arg_/opt_/get_args helpers return false with a pending JS exception on failure;
 * all throw_ helpers return NULL so a napi_callback can `return throw_...(...)`. */
napi_value throw_errno(napi_env env, int err, const char *syscall, const char *detail);
napi_value throw_arg(napi_env env, const char *fn, const char *what);
napi_value throw_napi(napi_env env, const char *fn);
#define NAPI_OK(call, fn) do { if ((call) != napi_ok) return throw_napi(env, fn); } while (0)

napi_value make_int(napi_env env, int64_t v);
napi_value make_undefined(napi_env env);
bool make_addr_string(napi_env env, int af, const void *addr, napi_value *out);
void set_prop_int(napi_env env, napi_value obj, const char *name, int64_t v);
void set_prop_str(napi_env env, napi_value obj, const char *name, const char *s);
void set_prop_bool(napi_env env, napi_value obj, const char *name, bool b);
void set_prop_null(napi_env env, napi_value obj, const char *name);

bool get_args_opt(napi_env env, napi_callback_info info, const char *fn, size_t want, size_t cap, napi_value *argv,
                  cp_state **state);
bool get_args(napi_env env, napi_callback_info info, const char *fn, size_t want, napi_value *argv, cp_state **state);
bool is_type(napi_env env, napi_value v, napi_valuetype t);
bool is_nullish(napi_env env, napi_value v);
bool arg_int(napi_env env, napi_value v, const char *fn, const char *name, int64_t min, int64_t max, int64_t *out);
bool arg_str(napi_env env, napi_value v, const char *fn, const char *name, char *buf, size_t cap);
bool arg_bytes(napi_env env, napi_value v, const char *fn, const char *name, const uint8_t **data, size_t *len);
bool arg_family(napi_env env, napi_value v, const char *fn, int *af);
bool arg_addr(napi_env env, napi_value v, const char *fn, const char *name, int af, unsigned char *out);
bool base_ifname(const char *name, char *out);
bool resolve_ifname(napi_env env, const char *fn, const char *name, char *base, int *ifindex);
bool opt_get(napi_env env, napi_value obj, const char *name, napi_value *out, bool *present);
bool opt_int(napi_env env, napi_value obj, const char *fn, const char *name, int64_t min, int64_t max, int64_t *out,
             bool *present);
bool opt_bool(napi_env env, napi_value obj, const char *fn, const char *name, bool *out);
bool opt_addr(napi_env env, napi_value obj, const char *fn, const char *name, int af, unsigned char *out,
              bool *present);

/* ---- sock.c: the fd registry, receiving with uv_poll, and what every socket kind shares -- */

napi_value sock_publish(napi_env env, cp_state *st, int fd, const cp_kind *kind, int family, int ifindex,
                        napi_value callback);
napi_value sock_fail(napi_env env, int fd, const char *syscall, const char *detail);
napi_value send_result(napi_env env, ssize_t n, const char *syscall);
napi_value close_kind(napi_env env, napi_callback_info info, const char *fn, const cp_kind *kind);
cp_sock *arg_sock(napi_env env, cp_state *st, napi_value v, const char *fn, const cp_kind *kind);
cp_sock *sock_find(cp_state *st, int fd);
/* One datagram of a kernel netlink multicast socket into st->rxbuf: its length, 0 when another
 * sender wrote it (dropped: only the kernel speaks on these groups), or -errno. */
ssize_t recv_from_kernel(cp_sock *s);
/* A non-blocking netlink socket of `protocol` (named `name` in errors) bound to the multicast
 * `groups`, with `rcvbuf` bytes of receive buffer, published as `kind`: its fd, or NULL with a
 * JS exception pending. */
napi_value netlink_listen(napi_env env, cp_state *st, int protocol, const char *name, uint32_t groups, int rcvbuf,
                          const cp_kind *kind, napi_value callback);
napi_value start_poll(napi_env env, cp_state *st, cp_sock *s, napi_value callback, const char *fn);
void stop_poll(napi_env env, cp_sock *s, bool teardown);
void close_sock(napi_env env, cp_state *st, cp_sock *s, bool teardown);
void report_callback_exception(napi_env env);
int set_int_opt(int fd, int level, int name, int value);
void set_rcvbuf(int fd, int bytes);

/* ---- rtnl.c: rtnetlink messages shared with the link monitor ------------------------------ */

struct nlmsghdr;
struct rtattr;
void nl_parse_attrs(struct rtattr *rta, int len, struct rtattr **tb, int max);
bool build_addr(napi_env env, struct nlmsghdr *h, napi_value *out);

/* ---- the exported functions, one group per file (the export table is in carpool_net.c) --- */

/* raw.c: raw IP sockets (CARP and VRRP adverts) */
napi_value raw_open(napi_env env, napi_callback_info info);
napi_value raw_bind(napi_env env, napi_callback_info info);
napi_value raw_join(napi_env env, napi_callback_info info);
napi_value raw_leave(napi_env env, napi_callback_info info);
napi_value raw_set_checksum_offset(napi_env env, napi_callback_info info);
napi_value raw_send(napi_env env, napi_callback_info info);
napi_value raw_start(napi_env env, napi_callback_info info);
napi_value raw_stop(napi_env env, napi_callback_info info);
napi_value raw_close(napi_env env, napi_callback_info info);

/* packet.c: AF_PACKET frames (gratuitous ARP, unsolicited NA) and interface facts */
napi_value packet_open(napi_env env, napi_callback_info info);
napi_value packet_send(napi_env env, napi_callback_info info);
napi_value packet_close(napi_env env, napi_callback_info info);
napi_value if_info(napi_env env, napi_callback_info info);

/* rtnl.c: addresses and routes */
napi_value addr_add(napi_env env, napi_callback_info info);
napi_value addr_del(napi_env env, napi_callback_info info);
napi_value addr_list(napi_env env, napi_callback_info info);
napi_value route_add(napi_env env, napi_callback_info info);
napi_value route_del(napi_env env, napi_callback_info info);
napi_value rule_add(napi_env env, napi_callback_info info);
napi_value rule_del(napi_env env, napi_callback_info info);
/* nfnl.c */
napi_value nfnl_send(napi_env env, napi_callback_info info);
void nfnl_cleanup(cp_state *st);

/* monitor.c: link and address notifications */
napi_value link_monitor_open(napi_env env, napi_callback_info info);
napi_value link_monitor_close(napi_env env, napi_callback_info info);
napi_value ct_events_open(napi_env env, napi_callback_info info);
napi_value ct_events_close(napi_env env, napi_callback_info info);

/* process.c: scheduling and memory locking */
napi_value set_realtime(napi_env env, napi_callback_info info);
napi_value mlock_all(napi_env env, napi_callback_info info);
napi_value set_netns(napi_env env, napi_callback_info info);
napi_value munlock_all(napi_env env, napi_callback_info info);

/* unix_dgram.c: AF_UNIX datagram client (syslog) */
napi_value unix_dgram_open(napi_env env, napi_callback_info info);
napi_value unix_dgram_send(napi_env env, napi_callback_info info);
napi_value unix_dgram_close(napi_env env, napi_callback_info info);

#endif
