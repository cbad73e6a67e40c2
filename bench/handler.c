/*
 * The benchmark's handler: the smallest useful program a watcher can run.
 *
 *   handler LOG PATH
 *
 * Appends one line "START_NS END_NS PID PATH" to LOG, where START_NS is
 * CLOCK_REALTIME on entry to main (the latency scenario compares it with the
 * writer's close) and END_NS the time just before the line is written (the
 * throughput scenario's "completion"). The line goes out in one write() on an
 * O_APPEND descriptor, so lines from handlers running at once never mix.
 *
 * When BENCH_HOLD is set in the environment to a number of seconds, the
 * handler sleeps that long after logging: the scale scenario uses it to keep
 * one job running while the daemon sits on a full queue. Its pid is in the
 * line so the benchmark can stop it by pid.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long long start = realtime_ns();
  if (argc != 3) {
    fprintf(stderr, "usage: handler LOG PATH\n");
    return 64;
  }
  int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    perror(argv[1]);
    return 74;
  }
  char line[4096 + 64];
  int n = snprintf(line, sizeof line, "%lld %lld %d %s\n", start, realtime_ns(), (int)getpid(),
                   argv[2]);
  if (n < 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n) {
    perror("write");
    return 74;
  }
  close(fd);
  const char *hold = getenv("BENCH_HOLD");
  if (hold != NULL && *hold != '\0') {
    unsigned left = (unsigned)strtoul(hold, NULL, 10);
    while (left > 0) left = sleep(left);
  }
  return 0;
}
