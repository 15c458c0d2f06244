/*
 * crashstamp.c — a service that crashes on purpose and stamps its life (benchmark helper).
 *
 * usage: crashstamp FILE RUN_MS
 *
 * Appends "S <ns>" to FILE the moment it starts (right after exec), sleeps RUN_MS, appends
 * "E <ns>" and exits with code 1. <ns> is CLOCK_MONOTONIC in nanoseconds. The gap between one
 * run's E and the next run's S is the supervisor's crash → respawn latency, end to end: kernel
 * exit, SIGCHLD, the supervisor noticing, its restart decision, fork and exec.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void stamp(int fd, char kind) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  char line[64];
  int len = snprintf(line, sizeof line, "%c %lld\n", kind, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  if (write(fd, line, (size_t)len) != len) _exit(3);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: crashstamp FILE RUN_MS\n");
    return 64;
  }
  int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    perror("crashstamp: unable to open stamp file");
    return 2;
  }
  stamp(fd, 'S');
  long ms = atol(argv[2]);
  struct timespec d = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&d, NULL);
  stamp(fd, 'E');
  _exit(1);
}
