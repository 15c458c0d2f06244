/*
 * orphans.c — make N orphans that all exit at the same instant (benchmark helper).
 *
 * usage: orphans N DEADLINE_NS
 *
 * Forks N children, each of which closes its stdio and sleeps until DEADLINE_NS (an absolute
 * CLOCK_MONOTONIC time in nanoseconds, the clock node's process.hrtime.bigint() reads) and then
 * _exit(0)s. The parent exits as soon as every child is forked, so the children are orphans of the
 * PID namespace's init well before the deadline. It prints "forked N in MS ms" and exits 0, or
 * exits 2 if forking took past the deadline (the run would not measure a burst).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: orphans N DEADLINE_NS\n");
    return 64;
  }
  int n = atoi(argv[1]);
  long long deadline = atoll(argv[2]);
  struct timespec at = {.tv_sec = deadline / 1000000000LL, .tv_nsec = deadline % 1000000000LL};
  long long t0 = now_ns();
  fflush(stdout);
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("orphans: unable to fork");
      return 1;
    }
    if (pid == 0) {
      close(0);
      close(1);
      close(2);
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) != 0) {
      }
      _exit(0);
    }
  }
  long long t1 = now_ns();
  printf("forked %d in %.1f ms\n", n, (t1 - t0) / 1e6);
  return t1 < deadline ? 0 : 2;
}
