/*
 * The least work a claim can do, as a reference for the claim rate: reads
 * the folder FROM, and moves every regular file in it into the folder TO
 * (same filesystem) under its own name, one file at a time:
 *
 *   claim_limit FROM TO
 *
 * For each entry: an lstat (is it a regular file? its size and mtime are
 * what a claim records) and a renameat2 with RENAME_NOREPLACE (a claim never
 * overwrites). No queue, no settle check, no log: nothing that claims files
 * one rename at a time can beat it on this machine.
 *
 * Prints "FILES SECONDS", timed from the first readdir to the last rename.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double mono_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: claim_limit FROM TO\n");
    return 2;
  }
  int from = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int to = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (from < 0 || to < 0) {
    fprintf(stderr, "claim_limit: open %s: %s\n", from < 0 ? argv[1] : argv[2], strerror(errno));
    return 1;
  }
  double start = mono_seconds();
  DIR *dir = fdopendir(dup(from));
  if (!dir) {
    fprintf(stderr, "claim_limit: opendir %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  long moved = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    struct stat st;
    if (fstatat(from, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    if (renameat2(from, entry->d_name, to, entry->d_name, RENAME_NOREPLACE) != 0) {
      fprintf(stderr, "claim_limit: rename %s: %s\n", entry->d_name, strerror(errno));
      return 1;
    }
    ++moved;
  }
  double took = mono_seconds() - start;
  closedir(dir);
  printf("%ld %.3f\n", moved, took);
  return 0;
}
