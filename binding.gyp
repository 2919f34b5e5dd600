{
  # The only native code in carpool: it moves bytes between Node and sockets Node cannot
  # open itself (raw IP, AF_PACKET, netlink, AF_UNIX datagram). Everything else is TypeScript.
  "targets": [
    {
      "target_name": "carpool_net",
      "sources": [
        "native/carpool_net.c",
        "native/js.c",
        "native/sock.c",
        "native/raw.c",
        "native/packet.c",
        "native/rtnl.c",
        "native/nfnl.c",
        "native/monitor.c",
        "native/ctevents.c",
        "native/unix_dgram.c",
        "native/process.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wunused-parameter", "-fvisibility=hidden"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"]
        }
      }
    }
  ]
}
