/*
 * AF_UNIX datagram client, used for syslog (/dev/log): Node has no datagram client for
 * AF_UNIX. The socket is connected and non-blocking, so a stalled syslog daemon costs a
 * dropped line (-EAGAIN), never a blocked event loop.
 */
#include "carpool_net.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Sends only: no reader, so it can never be started. */
const cp_kind cp_kind_unix = {"unixDgramOpen", NULL, NULL};

/* unixDgramOpen(path) -> fd; a leading '@' names an abstract socket. */
napi_value unix_dgram_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  cp_state *st;
  struct sockaddr_un sun;
  char path[sizeof sun.sun_path + 1];
  socklen_t len;
  int fd;
  if (!get_args(env, info, "unixDgramOpen", 1, argv, &st)) return NULL;
  if (!arg_str(env, argv[0], "unixDgramOpen", "path", path, sizeof sun.sun_path)) return NULL;
  if (!path[0]) return throw_arg(env, "unixDgramOpen", "path must not be empty");
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, strlen(path));
  len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
  if (path[0] == '@') sun.sun_path[0] = 0;
  else len += 1;
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "(AF_UNIX, SOCK_DGRAM)");
  if (connect(fd, (struct sockaddr *)&sun, len) < 0) return sock_fail(env, fd, "connect", path);
  return sock_publish(env, st, fd, &cp_kind_unix, AF_UNIX, 0, NULL);
}

/* unixDgramSend(fd, data) -> bytes | -errno (never blocks: a full receiver gives -EAGAIN) */
napi_value unix_dgram_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  cp_state *st;
  cp_sock *s;
  const uint8_t *data;
  size_t len;
  ssize_t n;
  if (!get_args(env, info, "unixDgramSend", 2, argv, &st)) return NULL;
  if (!(s = arg_sock(env, st, argv[0], "unixDgramSend", &cp_kind_unix))) return NULL;
  if (!arg_bytes(env, argv[1], "unixDgramSend", "data", &data, &len)) return NULL;
  do {
    n = send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return send_result(env, n, "send(AF_UNIX)");
}

napi_value unix_dgram_close(napi_env env, napi_callback_info info) {
  return close_kind(env, info, "unixDgramClose", &cp_kind_unix);
}
