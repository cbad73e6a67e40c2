/*
 * Writes COUNT small files into DIR as fast as possible, or at RATE files per
 * second, the way a client drops files into a share: create, write, close.
 *
 *   writer [-r RATE] [-s SIZE] [-x PREFIX] [-t TIMES] [-m META] [-p] DIR COUNT
 *
 * Files are named PREFIX%07d.dat (PREFIX defaults to "f"). With -t, TIMES gets
 * one line "CLOSE_NS NAME" per file, CLOCK_REALTIME taken right after
 * close() (kept in memory and written at the end, so the file does not slow
 * the writing). With -m, META gets "FIRST_NS LAST_NS COUNT": the time before
 * the first open() and after the last close(). With -p, the absolute path of
 * each file goes to stdout after its close, one write() per line, for the
 * limit program that needs no watching.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(long long mono_ns) {
  struct timespec ts = {(time_t)(mono_ns / 1000000000LL), (long)(mono_ns % 1000000000LL)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: writer [-r RATE] [-s SIZE] [-x PREFIX] [-t TIMES] [-m META] [-p] DIR COUNT\n");
  exit(64);
}

int main(int argc, char **argv) {
  double rate = 0;
  size_t size = 64;
  const char *prefix = "f", *times_file = NULL, *meta_file = NULL;
  int print_paths = 0, opt;
  while ((opt = getopt(argc, argv, "r:s:x:t:m:p")) != -1) {
    switch (opt) {
      case 'r': rate = atof(optarg); break;
      case 's': size = (size_t)strtoul(optarg, NULL, 10); break;
      case 'x': prefix = optarg; break;
      case 't': times_file = optarg; break;
      case 'm': meta_file = optarg; break;
      case 'p': print_paths = 1; break;
      default: usage();
    }
  }
  if (argc - optind != 2) usage();
  char dir[PATH_MAX];
  if (realpath(argv[optind], dir) == NULL) {
    perror(argv[optind]);
    return 66;
  }
  long count = strtol(argv[optind + 1], NULL, 10);
  char *content = malloc(size + 1);
  long long *closed = calloc((size_t)(count > 0 ? count : 1), sizeof *closed);
  if (content == NULL || closed == NULL) return 71;
  memset(content, 'x', size);

  long long first = clock_ns(CLOCK_REALTIME), mono0 = clock_ns(CLOCK_MONOTONIC);
  char path[PATH_MAX + 64];
  for (long i = 0; i < count; ++i) {
    if (rate > 0) sleep_until(mono0 + (long long)((double)i * 1e9 / rate));
    int len = snprintf(path, sizeof path, "%s/%s%07ld.dat", dir, prefix, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, content, size) != 0 || close(fd) != 0) {
      perror(path);
      return 74;
    }
    closed[i] = clock_ns(CLOCK_REALTIME);
    if (print_paths) {
      path[len] = '\n';
      if (write_all(STDOUT_FILENO, path, (size_t)len + 1) != 0) return 74;
    }
  }
  long long last = clock_ns(CLOCK_REALTIME);

  if (times_file != NULL) {
    FILE *f = fopen(times_file, "we");
    if (f == NULL) return 73;
    for (long i = 0; i < count; ++i) fprintf(f, "%lld %s%07ld.dat\n", closed[i], prefix, i);
    if (fclose(f) != 0) return 74;
  }
  if (meta_file != NULL) {
    FILE *f = fopen(meta_file, "we");
    if (f == NULL) return 73;
    fprintf(f, "%lld %lld %ld\n", first, last, count);
    if (fclose(f) != 0) return 74;
  }
  return 0;
}
