/*
 * The boundary between JS values and C: exceptions with errno names, argument checking
 * and small result values. Every exported function goes through these, so bad input is
 * reported the same way everywhere (TypeError with code EINVAL naming the function and
 * the argument).
 */
#include "carpool_net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ------------------------------------------------------------------------------------ */
/* errors                                                                               */

static const char *errno_name(int e) {
  switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF) E(EAGAIN) E(ENOMEM)
    E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE)
    E(EMFILE) E(ENOTTY) E(ENOSPC) E(EROFS) E(EPIPE) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS)
    E(ELOOP) E(ENODATA) E(ETIME) E(ENOLINK) E(EPROTO) E(EBADMSG) E(EOVERFLOW) E(ENOTSOCK)
    E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT) E(EPROTONOSUPPORT)
    E(ESOCKTNOSUPPORT) E(EOPNOTSUPP) E(EPFNOSUPPORT) E(EAFNOSUPPORT) E(EADDRINUSE)
    E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ENETRESET) E(ECONNABORTED) E(ECONNRESET)
    E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ESHUTDOWN) E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTDOWN)
    E(EHOSTUNREACH) E(EALREADY) E(EINPROGRESS) E(ECANCELED) E(ERFKILL)
#undef E
    default: return "EUNKNOWN";
  }
}

void set_prop_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_value val;
  if (napi_create_int64(env, v, &val) == napi_ok) napi_set_named_property(env, obj, name, val);
}

void set_prop_str(napi_env env, napi_value obj, const char *name, const char *s) {
  napi_value val;
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &val) == napi_ok) napi_set_named_property(env, obj, name, val);
}

void set_prop_bool(napi_env env, napi_value obj, const char *name, bool b) {
  napi_value val;
  if (napi_get_boolean(env, b, &val) == napi_ok) napi_set_named_property(env, obj, name, val);
}

void set_prop_null(napi_env env, napi_value obj, const char *name) {
  napi_value val;
  if (napi_get_null(env, &val) == napi_ok) napi_set_named_property(env, obj, name, val);
}

/* Throw Error{code: 'EXXX', errno: -err, syscall} with "syscall detail: strerror". Returns NULL. */
napi_value throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  char msg[512];
  napi_value code, text, error;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return NULL;
  snprintf(msg, sizeof msg, "%s%s%s: %s (%s)", syscall, detail && *detail ? " " : "", detail ? detail : "",
           strerror(err), errno_name(err));
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok) {
    napi_throw_error(env, errno_name(err), msg);
    return NULL;
  }
  set_prop_int(env, error, "errno", -err);
  set_prop_str(env, error, "syscall", syscall);
  napi_throw(env, error);
  return NULL;
}

/* Programming error in the arguments: TypeError with code EINVAL. Returns NULL. */
napi_value throw_arg(napi_env env, const char *fn, const char *what) {
  char msg[256];
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return NULL;
  snprintf(msg, sizeof msg, "%s: %s", fn, what);
  napi_throw_type_error(env, "EINVAL", msg);
  return NULL;
}

/* A napi call failed without a JS exception (should not happen): make it one. */
napi_value throw_napi(napi_env env, const char *fn) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    char msg[256];
    napi_get_last_error_info(env, &info);
    snprintf(msg, sizeof msg, "%s: N-API call failed: %s", fn,
             info && info->error_message ? info->error_message : "unknown");
    napi_throw_error(env, "ENAPI", msg);
  }
  return NULL;
}

napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (napi_create_int64(env, v, &out) != napi_ok) return throw_napi(env, "make_int");
  return out;
}

napi_value make_undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

/* Binary address of family af as JS text; "" if inet_ntop refuses (never for 4/16 bytes). */
bool make_addr_string(napi_env env, int af, const void *addr, napi_value *out) {
  char text[INET6_ADDRSTRLEN];
  if (!inet_ntop(af, addr, text, sizeof text)) text[0] = 0;
  return napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, out) == napi_ok;
}

/* ------------------------------------------------------------------------------------ */
/* argument helpers (all return false with a pending exception on failure)                */

/* Fetch up to `cap` arguments (missing ones are undefined); at least `want` must be given. */
bool get_args_opt(napi_env env, napi_callback_info info, const char *fn, size_t want, size_t cap,
                         napi_value *argv, cp_state **state) {
  size_t argc = cap;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) {
    throw_napi(env, fn);
    return false;
  }
  if (state) *state = data;
  if (argc < want) {
    char what[96]; /* room for two 20-digit size_t, though argc is small */
    snprintf(what, sizeof what, "expected %zu arguments, got %zu", want, argc);
    throw_arg(env, fn, what);
    return false;
  }
  return true;
}

bool get_args(napi_env env, napi_callback_info info, const char *fn, size_t want, napi_value *argv,
                     cp_state **state) {
  return get_args_opt(env, info, fn, want, want, argv, state);
}

bool is_type(napi_env env, napi_value v, napi_valuetype t) {
  napi_valuetype actual;
  return napi_typeof(env, v, &actual) == napi_ok && actual == t;
}

bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null;
}

bool arg_int(napi_env env, napi_value v, const char *fn, const char *name, int64_t min, int64_t max,
                    int64_t *out) {
  double d;
  char what[128];
  /* Range first: NaN and infinities fail it, so the cast below is always defined. */
  if (!is_type(env, v, napi_number) || napi_get_value_double(env, v, &d) != napi_ok ||
      !(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) {
    snprintf(what, sizeof what, "%s must be an integer %lld..%lld", name, (long long)min, (long long)max);
    throw_arg(env, fn, what);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool arg_str(napi_env env, napi_value v, const char *fn, const char *name, char *buf, size_t cap) {
  size_t len = 0;
  char what[128];
  if (!is_type(env, v, napi_string) || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok ||
      len >= cap) {
    snprintf(what, sizeof what, "%s must be a string of at most %zu bytes", name, cap - 1);
    throw_arg(env, fn, what);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) {
    throw_napi(env, fn);
    return false;
  }
  if (strlen(buf) != len) {
    snprintf(what, sizeof what, "%s must not contain NUL", name);
    throw_arg(env, fn, what);
    return false;
  }
  return true;
}

bool arg_bytes(napi_env env, napi_value v, const char *fn, const char *name, const uint8_t **data,
                      size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  size_t length = 0;
  char what[128];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    snprintf(what, sizeof what, "%s must be a Uint8Array", name);
    throw_arg(env, fn, what);
    return false;
  }
  *data = ptr;
  *len = length;
  return true;
}

bool arg_family(napi_env env, napi_value v, const char *fn, int *af) {
  int64_t f;
  if (!arg_int(env, v, fn, "family", 4, 6, &f) || (f != 4 && f != 6)) {
    throw_arg(env, fn, "family must be 4 or 6");
    return false;
  }
  *af = f == 4 ? AF_INET : AF_INET6;
  return true;
}

/* Text address of the given family into 16 bytes (IPv4 uses the first 4). */
bool arg_addr(napi_env env, napi_value v, const char *fn, const char *name, int af, unsigned char *out) {
  char text[INET6_ADDRSTRLEN + 32];
  char what[160];
  char *pct;
  if (!arg_str(env, v, fn, name, text, sizeof text)) return false;
  pct = strchr(text, '%'); /* scope is taken from the socket's interface */
  if (pct && af == AF_INET6) *pct = 0;
  memset(out, 0, 16);
  if (inet_pton(af, text, out) != 1) {
    snprintf(what, sizeof what, "%s is not a valid IPv%d address: %.64s", name, af == AF_INET ? 4 : 6, text);
    throw_arg(env, fn, what);
    return false;
  }
  return true;
}

/* Named property of an options object; *present is false for a missing object, undefined or null. */
bool opt_get(napi_env env, napi_value obj, const char *name, napi_value *out, bool *present) {
  bool has = false;
  *present = false;
  if (is_nullish(env, obj)) return true;
  if (!is_type(env, obj, napi_object)) return true;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok) return false;
  if (!has) return true;
  if (napi_get_named_property(env, obj, name, out) != napi_ok) return false;
  *present = !is_nullish(env, *out);
  return true;
}

bool opt_int(napi_env env, napi_value obj, const char *fn, const char *name, int64_t min, int64_t max,
                    int64_t *out, bool *present) {
  napi_value v;
  if (!opt_get(env, obj, name, &v, present)) return false;
  return !*present || arg_int(env, v, fn, name, min, max, out);
}

bool opt_bool(napi_env env, napi_value obj, const char *fn, const char *name, bool *out) {
  napi_value v;
  bool present;
  *out = false;
  if (!opt_get(env, obj, name, &v, &present)) return false;
  if (!present) return true;
  if (!is_type(env, v, napi_boolean) || napi_get_value_bool(env, v, out) != napi_ok) {
    char what[96];
    snprintf(what, sizeof what, "%s must be a boolean", name);
    throw_arg(env, fn, what);
    return false;
  }
  return true;
}

bool opt_addr(napi_env env, napi_value obj, const char *fn, const char *name, int af, unsigned char *out,
                     bool *present) {
  napi_value v;
  if (!opt_get(env, obj, name, &v, present)) return false;
  return !*present || arg_addr(env, v, fn, name, af, out);
}

/* "eth0:carp0" -> "eth0" (Linux IPv4 aliases are labels on the same device). */
bool base_ifname(const char *name, char *out) {
  size_t n = strcspn(name, ":");
  if (n == 0 || n >= IFNAMSIZ) return false;
  memcpy(out, name, n);
  out[n] = 0;
  return true;
}

/* Interface name as JS passes it ("eth0" or the alias "eth0:vip") -> the device name in
 * `base` (IFNAMSIZ bytes) and its index. A missing device is ENODEV whichever errno the C
 * library picked, so JS sees one code for "no such interface". */
bool resolve_ifname(napi_env env, const char *fn, const char *name, char *base, int *ifindex) {
  if (!base_ifname(name, base)) {
    throw_arg(env, fn, "invalid interface name");
    return false;
  }
  *ifindex = (int)if_nametoindex(base);
  if (!*ifindex) {
    throw_errno(env, errno == ENXIO ? ENODEV : errno, "if_nametoindex", base);
    return false;
  }
  return true;
}
