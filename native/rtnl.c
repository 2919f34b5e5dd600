/*
 * rtnetlink: add, delete and list addresses, add and delete routes (multipath too) and
 * policy routing rules, and the message
 * parsing the link monitor (monitor.c) shares. Each request opens a short-lived netlink
 * socket, sends one message and reads the kernel's ACK, which is normally queued before
 * sendmsg() returns; the only wait is a poll() of at most NL_ACK_TIMEOUT_MS.
 */
#include "carpool_net.h"

#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

#define NL_ACK_TIMEOUT_MS 100

/* ------------------------------------------------------------------------------------ */
/* request plumbing                                                                     */

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

/* ------------------------------------------------------------------------------------ */
/* messages to JS                                                                       */

/* Index the attributes of one message by type (tb[0..max]); unknown types are skipped. */
void nl_parse_attrs(struct rtattr *rta, int len, struct rtattr **tb, int max) {
  memset(tb, 0, sizeof(struct rtattr *) * (size_t)(max + 1));
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
    if (rta->rta_type <= max) tb[rta->rta_type] = rta;
}

static int family_to_js(int af) { return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0; }

/* Address object shared by addrList and the monitor: {ifindex, family, address, prefix, label, flags, proto, scope} */
bool build_addr(napi_env env, struct nlmsghdr *h, napi_value *out) {
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

/* ------------------------------------------------------------------------------------ */
/* addresses                                                                            */

/* addrAdd(ifindex, family, address, prefix, {label?, broadcast?, nodad?, noprefixroute?, proto?, scope?}) -> 0 | -errno */
static napi_value addr_add_del(napi_env env, napi_callback_info info, bool add) {
  const char *fn = add ? "addrAdd" : "addrDel";
  napi_value argv[5], v;
  cp_state *st;
  int af;
  int64_t ifindex, prefix, proto = 0, scope = 0;
  unsigned char addr[16], brd[16];
  bool has_brd = false, has_proto = false, has_label = false, nodad = false, noprefixroute = false, has_scope = false;
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
    if (!opt_int(env, argv[4], fn, "scope", 0, 255, &scope, &has_scope)) return NULL;
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
    ifa->ifa_scope = has_scope ? (unsigned char)scope : (af == AF_INET && addr[0] == 127) ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
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

napi_value addr_add(napi_env env, napi_callback_info info) { return addr_add_del(env, info, true); }
napi_value addr_del(napi_env env, napi_callback_info info) { return addr_add_del(env, info, false); }

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
napi_value addr_list(napi_env env, napi_callback_info info) {
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

/* ------------------------------------------------------------------------------------ */
/* routes                                                                               */

#define MAX_NEXTHOPS 16

/* RTA_MULTIPATH from nexthops: [{gateway?, ifindex?, weight? (1..256)}, ...] (at least one). */
static bool route_nexthops(napi_env env, const char *fn, napi_value arr, int af, struct nlmsghdr *nh, size_t cap) {
  unsigned char mp[MAX_NEXTHOPS * (sizeof(struct rtnexthop) + RTA_SPACE(16))];
  size_t used = 0, alen = af == AF_INET ? 4 : 16;
  uint32_t n = 0;
  bool is_array = false;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array) return throw_arg(env, fn, "nexthops must be an array"), false;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return throw_napi(env, fn), false;
  if (n == 0 || n > MAX_NEXTHOPS) return throw_arg(env, fn, "nexthops: 1..16 entries"), false;
  memset(mp, 0, sizeof mp);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    struct rtnexthop *rtnh = (struct rtnexthop *)(mp + used);
    unsigned char gw[16];
    bool has_gw, has_oif, has_w;
    int64_t oif = 0, w = 1;
    if (napi_get_element(env, arr, i, &e) != napi_ok) return throw_napi(env, fn), false;
    if (!is_type(env, e, napi_object)) return throw_arg(env, fn, "nexthops: each entry must be an object"), false;
    if (!opt_addr(env, e, fn, "gateway", af, gw, &has_gw)) return false;
    if (!opt_int(env, e, fn, "ifindex", 1, INT32_MAX, &oif, &has_oif)) return false;
    if (!opt_int(env, e, fn, "weight", 1, 256, &w, &has_w)) return false;
    if (!has_gw && !has_oif) return throw_arg(env, fn, "nexthops: each entry needs a gateway or an ifindex"), false;
    rtnh->rtnh_len = sizeof *rtnh;
    rtnh->rtnh_hops = (unsigned char)(w - 1);
    rtnh->rtnh_ifindex = (int)oif;
    if (has_gw) {
      struct rtattr *rta = (struct rtattr *)((char *)rtnh + sizeof *rtnh);
      rta->rta_type = RTA_GATEWAY;
      rta->rta_len = (unsigned short)RTA_LENGTH(alen);
      memcpy(RTA_DATA(rta), gw, alen);
      rtnh->rtnh_len = (unsigned short)(sizeof *rtnh + RTA_SPACE(alen));
    }
    used += RTNH_ALIGN(rtnh->rtnh_len);
  }
  if (!nl_attr(nh, cap, RTA_MULTIPATH, mp, used)) return throw_errno(env, EMSGSIZE, fn, "(request too large)"), false;
  return true;
}

/* routeAdd/routeDel({family, dst, prefix, gateway?, ifindex?, table?, metric?, scope?, src?, proto?, type?, nexthops?}) -> 0 | -errno
   type: RTN_* (1 unicast default, 6 blackhole, 7 unreachable, 8 prohibit); nexthops: a multipath route. */
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
  if (!opt_get(env, argv[0], "nexthops", &v, &present)) return throw_napi(env, fn);
  if (present && !route_nexthops(env, fn, v, af, nh, sizeof req)) return NULL;
  return make_int(env, nl_transact(st, nh));
}

napi_value route_add(napi_env env, napi_callback_info info) { return route_add_del(env, info, true); }
napi_value route_del(napi_env env, napi_callback_info info) { return route_add_del(env, info, false); }

/* ------------------------------------------------------------------------------------ */
/* policy routing rules                                                                 */

/* One side of a rule: "from"/"to" as {address, prefix} -> FRA_SRC/FRA_DST and its length. */
static bool rule_side(napi_env env, const char *fn, napi_value spec, const char *name, int af, unsigned short type,
                      unsigned char *len_out, struct nlmsghdr *nh, size_t cap) {
  napi_value v;
  bool present;
  unsigned char addr[16];
  int64_t prefix;
  char what[32];
  if (!opt_get(env, spec, name, &v, &present)) return throw_napi(env, fn), false;
  if (!present) return true;
  snprintf(what, sizeof what, "%s.address", name);
  {
    napi_value a;
    bool has;
    if (!opt_get(env, v, "address", &a, &has)) return throw_napi(env, fn), false;
    if (!has) return throw_arg(env, fn, "from/to need an address"), false;
    if (!arg_addr(env, a, fn, what, af, addr)) return false;
  }
  if (!opt_int(env, v, fn, "prefix", 0, af == AF_INET ? 32 : 128, &prefix, &present)) return false;
  if (!present) prefix = af == AF_INET ? 32 : 128;
  *len_out = (unsigned char)prefix;
  if (prefix > 0 && !nl_attr(nh, cap, type, addr, af == AF_INET ? 4 : 16))
    return throw_errno(env, EMSGSIZE, fn, "(request too large)"), false;
  return true;
}

/* An interface name attribute (FRA_IIFNAME / FRA_OIFNAME): the rule may name a device that does not exist yet. */
static bool rule_ifname(napi_env env, const char *fn, napi_value spec, const char *name, unsigned short type,
                        struct nlmsghdr *nh, size_t cap) {
  napi_value v;
  bool present;
  char ifname[IFNAMSIZ];
  if (!opt_get(env, spec, name, &v, &present)) return throw_napi(env, fn), false;
  if (!present) return true;
  if (!arg_str(env, v, fn, name, ifname, IFNAMSIZ)) return false;
  if (!nl_attr(nh, cap, type, ifname, strlen(ifname) + 1)) return throw_errno(env, EMSGSIZE, fn, "(request too large)"), false;
  return true;
}

/* ruleAdd/ruleDel({family, from?, to?, table?, priority?, fwmark?, fwmask?, iif?, oif?, action?}) -> 0 | -errno
   from/to: {address, prefix}; action: FR_ACT_* (1 to table default, 6 blackhole, 7 unreachable, 8 prohibit).
   Added with NLM_F_EXCL: an identical rule is -EEXIST (rules, unlike routes, may be duplicated). */
static napi_value rule_add_del(napi_env env, napi_callback_info info, bool add) {
  const char *fn = add ? "ruleAdd" : "ruleDel";
  napi_value argv[1], v;
  cp_state *st;
  int af;
  bool present, has_table, has_prio, has_mark, has_mask, has_action;
  int64_t table = 0, prio = 0, mark = 0, mask = 0, action = FR_ACT_TO_TBL;
  nl_req req;
  struct nlmsghdr *nh = (struct nlmsghdr *)req.raw;
  struct fib_rule_hdr *frh;
  if (!get_args(env, info, fn, 1, argv, &st)) return NULL;
  if (!is_type(env, argv[0], napi_object)) return throw_arg(env, fn, "options must be an object");
  if (!opt_get(env, argv[0], "family", &v, &present)) return throw_napi(env, fn);
  if (!present) return throw_arg(env, fn, "family is required");
  if (!arg_family(env, v, fn, &af)) return NULL;
  if (!opt_int(env, argv[0], fn, "table", 1, UINT32_MAX, &table, &has_table)) return NULL;
  if (!opt_int(env, argv[0], fn, "priority", 0, UINT32_MAX, &prio, &has_prio)) return NULL;
  if (!opt_int(env, argv[0], fn, "fwmark", 0, UINT32_MAX, &mark, &has_mark)) return NULL;
  if (!opt_int(env, argv[0], fn, "fwmask", 0, UINT32_MAX, &mask, &has_mask)) return NULL;
  if (!opt_int(env, argv[0], fn, "action", 1, FR_ACT_PROHIBIT, &action, &has_action)) return NULL;
  if (add && !has_table && action == FR_ACT_TO_TBL) return throw_arg(env, fn, "a rule that looks up a table needs the table");
  memset(&req, 0, sizeof req);
  nh->nlmsg_len = NLMSG_LENGTH(sizeof *frh);
  nh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
  nh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
  frh = NLMSG_DATA(nh);
  frh->family = (unsigned char)af;
  frh->action = (unsigned char)action;
  frh->table = has_table && table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
  if (!rule_side(env, fn, argv[0], "from", af, FRA_SRC, &frh->src_len, nh, sizeof req) ||
      !rule_side(env, fn, argv[0], "to", af, FRA_DST, &frh->dst_len, nh, sizeof req) ||
      !rule_ifname(env, fn, argv[0], "iif", FRA_IIFNAME, nh, sizeof req) ||
      !rule_ifname(env, fn, argv[0], "oif", FRA_OIFNAME, nh, sizeof req))
    return NULL;
  if ((has_table && !nl_attr_u32(nh, sizeof req, FRA_TABLE, (uint32_t)table)) ||
      (has_prio && !nl_attr_u32(nh, sizeof req, FRA_PRIORITY, (uint32_t)prio)) ||
      (has_mark && !nl_attr_u32(nh, sizeof req, FRA_FWMARK, (uint32_t)mark)) ||
      (has_mask && !nl_attr_u32(nh, sizeof req, FRA_FWMASK, (uint32_t)mask)))
    return throw_errno(env, EMSGSIZE, fn, "(request too large)");
  return make_int(env, nl_transact(st, nh));
}

napi_value rule_add(napi_env env, napi_callback_info info) { return rule_add_del(env, info, true); }
napi_value rule_del(napi_env env, napi_callback_info info) { return rule_add_del(env, info, false); }
