/* A small program for `mmutrace record` (examples/recorded/README.md):
 * each loop touches 16 pages of its own buffers in one way, so that every
 * rule of the guest kernel model shows in the trace.
 *   - zero:  read 16 pages never written (the zero page, read-only), then
 *            write them (a protection fault and copy-on-write each);
 *   - fresh: write 16 pages first (a fresh frame each, no second fault);
 *   - again: read and write all 32 pages once more (no fault at all). */
#include <stdio.h>

#define PAGE 4096
#define PAGES 16

static char zero[PAGES * PAGE] __attribute__((aligned(PAGE)));
static char fresh[PAGES * PAGE] __attribute__((aligned(PAGE)));

int main(void) {
  volatile char *z = zero, *f = fresh;
  unsigned sum = 0;
  for (int i = 0; i < PAGES; i++) sum += z[i * PAGE];       /* first touch: read */
  for (int i = 0; i < PAGES; i++) z[i * PAGE] = (char)i;    /* copy-on-write */
  for (int i = 0; i < PAGES; i++) f[i * PAGE] = (char)i;    /* first touch: write */
  for (int i = 0; i < PAGES; i++) sum += z[i * PAGE] + f[i * PAGE];
  printf("%u\n", sum);
  return sum == 2 * 120 ? 0 : 1;
}
