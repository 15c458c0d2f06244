{
  "targets": [
    {
      "target_name": "metainit",
      "sources": ["native/metainit.c", "native/napi-util.c", "native/watchers.c", "native/exec.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"]
    }
  ]
}
