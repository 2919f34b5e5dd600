/*
 * Raw IP sockets: CARP (protocol 112) and VRRP adverts, one socket per interface and family.
 * JS builds and parses the packets (src/protocol); this file opens the socket, joins the
 * groups, sends with an optional per-datagram source address, and receives with the facts
 * the parser needs (source, destination, TTL / hop limit, interface) taken from the IPv4
 * header or from IP_PKTINFO / IPV6_PKTINFO / IPV6_HOPLIMIT.
 */
#include "carpool_net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* ------------------------------------------------------------------------------------ */
/* opening and configuring                                                              */

/* rawOpen(family, protocol, ifname, {tos?, unicastTtl?, multicastTtl?, headerIncluded?}) -> fd
 * headerIncluded (IPv4): the caller writes the IP header (IP_HDRINCL), as VRRP's IPsec AH
 * needs: its ICV covers the header's identification field, which the kernel would choose. */
napi_value raw_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  cp_state *st;
  int af, fd, ifindex = 0;
  int64_t protocol, tos = -1, uttl = 255, mttl = 255;
  bool has_tos, has_uttl, has_mttl, hdrincl = false;
  char ifname[IFNAME_ARG_MAX], base[IFNAMSIZ];
  const char *fail = NULL;
  if (!get_args_opt(env, info, "rawOpen", 3, 4, argv, &st)) return NULL;
  if (!arg_family(env, argv[0], "rawOpen", &af)) return NULL;
  if (!arg_int(env, argv[1], "rawOpen", "protocol", 1, 254, &protocol)) return NULL;
  if (!arg_str(env, argv[2], "rawOpen", "ifname", ifname, sizeof ifname)) return NULL;
  if (!opt_int(env, argv[3], "rawOpen", "tos", 0, 255, &tos, &has_tos)) return NULL;
  if (!opt_int(env, argv[3], "rawOpen", "unicastTtl", 1, 255, &uttl, &has_uttl)) return NULL;
  if (!opt_int(env, argv[3], "rawOpen", "multicastTtl", 1, 255, &mttl, &has_mttl)) return NULL;
  if (!opt_bool(env, argv[3], "rawOpen", "headerIncluded", &hdrincl)) return NULL;
  /* "" leaves the socket unbound: it sees the protocol on every interface. */
  if (ifname[0] && !resolve_ifname(env, "rawOpen", ifname, base, &ifindex)) return NULL;
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
    else if (hdrincl && set_int_opt(fd, IPPROTO_IP, IP_HDRINCL, 1) < 0) fail = "setsockopt(IP_HDRINCL)";
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
  if (fail) return sock_fail(env, fd, fail, ifname);
  return sock_publish(env, st, fd, &cp_kind_raw, af, ifindex, NULL);
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
napi_value raw_bind(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  cp_state *st;
  cp_sock *s;
  int af;
  unsigned char addr[16];
  struct sockaddr_storage ss;
  socklen_t len;
  if (!get_args(env, info, "rawBind", 3, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "rawBind", &cp_kind_raw))) return NULL;
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
  char ifname[IFNAME_ARG_MAX], base[IFNAMSIZ];
  if (!get_args(env, info, fn, 4, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], fn, &cp_kind_raw))) return NULL;
  if (!check_family(env, argv[1], fn, s, &af)) return NULL;
  if (!arg_addr(env, argv[2], fn, "group", af, group)) return NULL;
  if (!arg_str(env, argv[3], fn, "ifname", ifname, sizeof ifname)) return NULL;
  if (!ifname[0]) ifindex = s->ifindex; /* "" = the interface the socket was opened on */
  else if (!resolve_ifname(env, fn, ifname, base, &ifindex)) return NULL;
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

napi_value raw_join(napi_env env, napi_callback_info info) { return raw_membership(env, info, true); }
napi_value raw_leave(napi_env env, napi_callback_info info) { return raw_membership(env, info, false); }

/* rawSetChecksumOffset(fd, offset): IPv6 only; -1 disables kernel checksumming. */
napi_value raw_set_checksum_offset(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  cp_state *st;
  cp_sock *s;
  int64_t offset;
  if (!get_args(env, info, "rawSetChecksumOffset", 2, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "rawSetChecksumOffset", &cp_kind_raw))) return NULL;
  if (!arg_int(env, argv[1], "rawSetChecksumOffset", "offset", -1, 65534, &offset)) return NULL;
  if (s->family != AF_INET6) return throw_arg(env, "rawSetChecksumOffset", "only IPv6 raw sockets have IPV6_CHECKSUM");
  if (offset >= 0 && offset % 2) return throw_arg(env, "rawSetChecksumOffset", "offset must be even");
  if (set_int_opt(s->fd, IPPROTO_IPV6, IPV6_CHECKSUM, (int)offset) < 0)
    return throw_errno(env, errno, "setsockopt(IPV6_CHECKSUM)", NULL);
  return make_undefined(env);
}


/* rawSend(fd, family, dst, payload, src?) -> bytes sent or -errno. With `src` the source
 * address is chosen for this datagram (IP_PKTINFO / IPV6_PKTINFO) instead of by bind(),
 * which would also filter what the socket receives to that destination address. */
napi_value raw_send(napi_env env, napi_callback_info info) {
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
  if (!(s = arg_sock(env, st, argv[0], "rawSend", &cp_kind_raw))) return NULL;
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
  return send_result(env, n, "sendmsg");
}


/* ------------------------------------------------------------------------------------ */
/* receiving                                                                            */

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

const cp_kind cp_kind_raw = {"rawOpen", "carpool:raw", raw_read_one};

/* rawStart(fd, family, callback) */
napi_value raw_start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  cp_state *st;
  cp_sock *s;
  int af;
  if (!get_args(env, info, "rawStart", 3, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "rawStart", &cp_kind_raw))) return NULL;
  if (!check_family(env, argv[1], "rawStart", s, &af)) return NULL;
  return start_poll(env, st, s, argv[2], "rawStart");
}

/* rawStop(fd): idempotent; unknown fds are ignored. */
napi_value raw_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  cp_state *st;
  cp_sock *s;
  int64_t fd;
  if (!get_args(env, info, "rawStop", 1, argv, &st)) return NULL;
  if (!arg_int(env, argv[0], "rawStop", "fd", -1, INT32_MAX, &fd)) return NULL;
  s = sock_find(st, (int)fd);
  if (s && s->kind == &cp_kind_raw) stop_poll(env, s, false);
  return make_undefined(env);
}

napi_value raw_close(napi_env env, napi_callback_info info) { return close_kind(env, info, "rawClose", &cp_kind_raw); }
