/*
 * Counts loop iterations for SECONDS of wall time and prints the count. Run
 * once alone and twice at the same time, it shows how much CPU work two
 * processes really get on this machine compared with one.
 *
 *   cpu_spin SECONDS
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  double end = mono_s() + seconds;
  volatile unsigned long sink = 0;
  unsigned long rounds = 0;
  while (mono_s() < end) {
    for (int i = 0; i < 100000; ++i) sink += (unsigned long)i * 2654435761UL;
    ++rounds;
  }
  printf("%lu\n", rounds);
  return 0;
}
