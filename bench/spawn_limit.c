/*
 * The machine's limit for "run a handler per file, N at a time": reads one
 * file path per line on stdin and posix_spawns "HANDLER LOG PATH" for each,
 * keeping at most JOBS handlers in flight. It does no watching, queueing or
 * bookkeeping, so the time it needs is what process creation and the
 * handler itself cost on this machine.
 *
 *   spawn_limit JOBS HANDLER LOG < paths
 *
 * Exits when stdin ends and every handler has been reaped. Prints to stderr
 * the number of handlers started and failed and the CPU time of this program
 * and of its reaped children in milliseconds (getrusage), since it is gone
 * before the benchmark could read /proc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static long failed;

static long long cpu_ms(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
         ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static void note_exit(int status) {
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
}

/* Reaps one child, blocking when asked; returns 1 if one was reaped. */
static int reap(int block) {
  int status;
  pid_t pid;
  do {
    pid = waitpid(-1, &status, block ? 0 : WNOHANG);
  } while (pid < 0 && errno == EINTR);
  if (pid <= 0) return 0;
  note_exit(status);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: spawn_limit JOBS HANDLER LOG < paths\n");
    return 64;
  }
  long jobs = strtol(argv[1], NULL, 10);
  if (jobs < 1) jobs = 1;
  long in_flight = 0, started = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    if (line[len - 1] == '\n') line[len - 1] = '\0';
    while (in_flight > 0 && reap(0)) --in_flight;
    if (in_flight >= jobs && reap(1)) --in_flight;
    char *child_argv[] = {argv[2], argv[3], line, NULL};
    pid_t pid;
    int err = posix_spawn(&pid, argv[2], NULL, NULL, child_argv, environ);
    if (err != 0) {
      fprintf(stderr, "posix_spawn %s: %s\n", argv[2], strerror(err));
      ++failed;
      continue;
    }
    ++in_flight;
    ++started;
  }
  while (in_flight > 0 && reap(1)) --in_flight;
  free(line);
  fprintf(stderr, "spawn_limit: started=%ld failed=%ld self_ms=%lld children_ms=%lld\n", started,
          failed, cpu_ms(RUSAGE_SELF), cpu_ms(RUSAGE_CHILDREN));
  return failed == 0 ? 0 : 1;
}
