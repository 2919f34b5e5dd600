/*
 * Link-layer side: an AF_PACKET socket that sends whole Ethernet frames JS has built
 * (gratuitous ARP, unsolicited neighbour advertisements, frames from a virtual MAC), and
 * the interface facts needed to build them (MAC, flags, MTU).
 */
#include "carpool_net.h"

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Sends only: no reader, so it can never be started. */
const cp_kind cp_kind_packet = {"packetOpen", NULL, NULL};

/* ------------------------------------------------------------------------------------ */
/* AF_PACKET frame sender                                                                 */

/* packetOpen(ifname) -> fd. Protocol 0: the socket receives nothing, it only sends. */
napi_value packet_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  cp_state *st;
  char ifname[IFNAME_ARG_MAX], base[IFNAMSIZ];
  int ifindex, fd;
  struct sockaddr_ll sll;
  if (!get_args(env, info, "packetOpen", 1, argv, &st)) return NULL;
  if (!arg_str(env, argv[0], "packetOpen", "ifname", ifname, sizeof ifname)) return NULL;
  if (!resolve_ifname(env, "packetOpen", ifname, base, &ifindex)) return NULL;
  fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "(AF_PACKET, SOCK_RAW)");
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) return sock_fail(env, fd, "bind(AF_PACKET)", base);
  return sock_publish(env, st, fd, &cp_kind_packet, AF_PACKET, ifindex, NULL);
}

/* packetSend(fd, ifindex, frame) -> bytes or -errno. ifindex 0 = the interface of packetOpen. */
napi_value packet_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  cp_state *st;
  cp_sock *s;
  int64_t ifindex;
  const uint8_t *frame;
  size_t len;
  struct sockaddr_ll sll;
  ssize_t n;
  if (!get_args(env, info, "packetSend", 3, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "packetSend", &cp_kind_packet))) return NULL;
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
  return send_result(env, n, "sendto(AF_PACKET)");
}

napi_value packet_close(napi_env env, napi_callback_info info) {
  return close_kind(env, info, "packetClose", &cp_kind_packet);
}

/* ------------------------------------------------------------------------------------ */
/* interface facts                                                                        */

/* ifInfo(ifname) -> {index, name, mac, flags, up, running, mtu} | null */
napi_value if_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, nul;
  cp_state *st;
  char ifname[IFNAME_ARG_MAX], base[IFNAMSIZ], mac[18];
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
