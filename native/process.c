/*
 * Process helpers for the daemon's timing: SCHED_RR for the JS thread so adverts go out on
 * time on a busy host, and memory locking (see the warning at mlockAll); entering a named
 * network namespace (keepalived `net_namespace`). No sockets here.
 */
#include "carpool_net.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <string.h>
#include <sys/mman.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* setRealtime(priority) -> 0 | -errno; SCHED_RR for the calling (JS) thread, 0 = SCHED_OTHER.
 * With SCHED_RESET_ON_FORK: the scripts and agents it spawns run at normal priority. */
napi_value set_realtime(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t prio;
  struct sched_param sp;
  if (!get_args(env, info, "setRealtime", 1, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "setRealtime", "priority", 0, 99, &prio)) return NULL;
  memset(&sp, 0, sizeof sp);
  sp.sched_priority = (int)prio;
  if (sched_setscheduler(0, prio ? SCHED_RR | SCHED_RESET_ON_FORK : SCHED_OTHER, &sp) < 0) return make_int(env, -errno);
  return make_int(env, 0);
}

/* mlockAll() -> 0 | -errno. Beware: Linux refuses MADV_DONTNEED on locked mappings (EINVAL)
 * and V8 treats a failed discard of freed code pages as fatal, so a locked Node process
 * must munlockAll() before V8 tears its heap down (see src/net/realtime.ts). */
napi_value mlock_all(napi_env env, napi_callback_info info) {
  (void)info;
  if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0) return make_int(env, -errno);
  return make_int(env, 0);
}

/* munlockAll() -> 0 | -errno */
napi_value munlock_all(napi_env env, napi_callback_info info) {
  (void)info;
  if (munlockall() < 0) return make_int(env, -errno);
  return make_int(env, 0);
}

/* setNetns(path) -> 0 | -errno: the calling (JS) thread joins the network namespace of the
 * file `path` (/run/netns/NAME, as `ip netns add` makes it). Sockets it opens afterwards, and
 * processes it spawns, are in that namespace; libuv's pool threads stay where they were. */
napi_value set_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[4096];
  int fd, rc = 0;
  if (!get_args(env, info, "setNetns", 1, argv, NULL)) return NULL;
  if (!arg_str(env, argv[0], "setNetns", "path", path, sizeof path)) return NULL;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_int(env, -errno);
  if (setns(fd, CLONE_NEWNET) < 0) rc = -errno;
  close(fd);
  return make_int(env, rc);
}
