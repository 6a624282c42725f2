/* The vpdpbusd zmm peak of one core: 16 independent accumulators (gcc -O2 -mavx512f -mavx512vnni). */
#include <stdio.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(){
  long it = 200000000;
  double t0 = now();
  __asm__ volatile(
    "vpxord %%zmm0, %%zmm0, %%zmm0\n"
    "vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n"
    "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n"
    "mov %0, %%rcx\n"
    "1:\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n vpdpbusd %%zmm30, %%zmm31, %%zmm1\n vpdpbusd %%zmm30, %%zmm31, %%zmm2\n vpdpbusd %%zmm30, %%zmm31, %%zmm3\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n vpdpbusd %%zmm30, %%zmm31, %%zmm5\n vpdpbusd %%zmm30, %%zmm31, %%zmm6\n vpdpbusd %%zmm30, %%zmm31, %%zmm7\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm8\n vpdpbusd %%zmm30, %%zmm31, %%zmm9\n vpdpbusd %%zmm30, %%zmm31, %%zmm10\n vpdpbusd %%zmm30, %%zmm31, %%zmm11\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm12\n vpdpbusd %%zmm30, %%zmm31, %%zmm13\n vpdpbusd %%zmm30, %%zmm31, %%zmm14\n vpdpbusd %%zmm30, %%zmm31, %%zmm15\n"
    "dec %%rcx\n jnz 1b\n"
    : : "r"(it) : "rcx", "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","xmm30","xmm31", "cc");
  double dt = now() - t0;
  printf("vpdpbusd zmm: %.3f G/s per core = %.1f GMAC/s\n", it * 16 / dt / 1e9, it * 16 * 64 / dt / 1e9);
  t0 = now();
  __asm__ volatile(
    "mov %0, %%rcx\n"
    "1:\n"
    "add $1, %%rax\n add $1, %%rax\n add $1, %%rax\n add $1, %%rax\n add $1, %%rax\n add $1, %%rax\n add $1, %%rax\n add $1, %%rax\n"
    "dec %%rcx\n jnz 1b\n"
    : : "r"(it) : "rcx", "rax", "cc");
  dt = now() - t0;
  printf("dependent adds: %.3f G/s (the clock, at 1 a cycle)\n", it * 8 / dt / 1e9);
  return 0;
}
