/* Which instructions share vpdpbusd's pipes on Zen 4: memory broadcasts, FMAs, conversions, 4-bit unpacking. */
#include <stdio.h>
#include <time.h>
#include <stdint.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int32_t buf[64] __attribute__((aligned(64)));
#define D8(x) x x x x x x x x
int main(){
  long it = 100000000; double t0, dt;
  /* (b) dpbusd with embedded broadcast memory operand */
  t0 = now();
  __asm__ volatile("mov %0, %%rcx\n 1:\n"
    "vpdpbusd (%1)%{1to16%}, %%zmm31, %%zmm0\n vpdpbusd 4(%1)%{1to16%}, %%zmm31, %%zmm1\n vpdpbusd 8(%1)%{1to16%}, %%zmm31, %%zmm2\n vpdpbusd 12(%1)%{1to16%}, %%zmm31, %%zmm3\n"
    "vpdpbusd 16(%1)%{1to16%}, %%zmm31, %%zmm4\n vpdpbusd 20(%1)%{1to16%}, %%zmm31, %%zmm5\n vpdpbusd 24(%1)%{1to16%}, %%zmm31, %%zmm6\n vpdpbusd 28(%1)%{1to16%}, %%zmm31, %%zmm7\n"
    "dec %%rcx\n jnz 1b\n" : : "r"(it), "r"(buf) : "rcx", "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm31","cc","memory");
  dt = now() - t0; printf("(b) dpbusd m32bcst: %.2f G/s\n", it * 8 / dt / 1e9);
  /* (c) separate broadcast + dpbusd */
  t0 = now();
  __asm__ volatile("mov %0, %%rcx\n 1:\n"
    "vpbroadcastd (%1), %%zmm16\n vpdpbusd %%zmm16, %%zmm31, %%zmm0\n vpbroadcastd 4(%1), %%zmm17\n vpdpbusd %%zmm17, %%zmm31, %%zmm1\n"
    "vpbroadcastd 8(%1), %%zmm18\n vpdpbusd %%zmm18, %%zmm31, %%zmm2\n vpbroadcastd 12(%1), %%zmm19\n vpdpbusd %%zmm19, %%zmm31, %%zmm3\n"
    "vpbroadcastd 16(%1), %%zmm20\n vpdpbusd %%zmm20, %%zmm31, %%zmm4\n vpbroadcastd 20(%1), %%zmm21\n vpdpbusd %%zmm21, %%zmm31, %%zmm5\n"
    "vpbroadcastd 24(%1), %%zmm22\n vpdpbusd %%zmm22, %%zmm31, %%zmm6\n vpbroadcastd 28(%1), %%zmm23\n vpdpbusd %%zmm23, %%zmm31, %%zmm7\n"
    "dec %%rcx\n jnz 1b\n" : : "r"(it), "r"(buf) : "rcx", "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm16","xmm17","xmm18","xmm19","xmm20","xmm21","xmm22","xmm23","xmm31","cc","memory");
  dt = now() - t0; printf("(c) vpbroadcastd + dpbusd: %.2f G dpbusd/s\n", it * 8 / dt / 1e9);
  /* (d) 8 dpbusd + 3 fma (independent) */
  t0 = now();
  __asm__ volatile("mov %0, %%rcx\n 1:\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n vpdpbusd %%zmm30, %%zmm31, %%zmm1\n vpdpbusd %%zmm30, %%zmm31, %%zmm2\n vpdpbusd %%zmm30, %%zmm31, %%zmm3\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n vpdpbusd %%zmm30, %%zmm31, %%zmm5\n vpdpbusd %%zmm30, %%zmm31, %%zmm6\n vpdpbusd %%zmm30, %%zmm31, %%zmm7\n"
    "vfmadd231ps %%zmm29, %%zmm28, %%zmm8\n vfmadd231ps %%zmm29, %%zmm28, %%zmm9\n vfmadd231ps %%zmm29, %%zmm28, %%zmm10\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm11\n vpdpbusd %%zmm30, %%zmm31, %%zmm12\n vpdpbusd %%zmm30, %%zmm31, %%zmm13\n vpdpbusd %%zmm30, %%zmm31, %%zmm14\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm15\n vpdpbusd %%zmm30, %%zmm31, %%zmm16\n vpdpbusd %%zmm30, %%zmm31, %%zmm17\n vpdpbusd %%zmm30, %%zmm31, %%zmm18\n"
    "vfmadd231ps %%zmm29, %%zmm28, %%zmm19\n vfmadd231ps %%zmm29, %%zmm28, %%zmm20\n vfmadd231ps %%zmm29, %%zmm28, %%zmm21\n"
    "dec %%rcx\n jnz 1b\n" : : "r"(it) : "rcx", "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","xmm16","xmm17","xmm18","xmm19","xmm20","xmm21","xmm28","xmm29","xmm30","xmm31","cc");
  dt = now() - t0; printf("(d) 16 dpbusd + 6 fma: %.2f ns per iteration = %.2f cycles at 3.67 GHz\n", dt / it * 1e9, dt / it * 3.67e9);
  /* (e) 16 dpbusd + 6 cvtdq2ps */
  t0 = now();
  __asm__ volatile("mov %0, %%rcx\n 1:\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n vpdpbusd %%zmm30, %%zmm31, %%zmm1\n vpdpbusd %%zmm30, %%zmm31, %%zmm2\n vpdpbusd %%zmm30, %%zmm31, %%zmm3\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n vpdpbusd %%zmm30, %%zmm31, %%zmm5\n vpdpbusd %%zmm30, %%zmm31, %%zmm6\n vpdpbusd %%zmm30, %%zmm31, %%zmm7\n"
    "vcvtdq2ps %%zmm29, %%zmm8\n vcvtdq2ps %%zmm29, %%zmm9\n vcvtdq2ps %%zmm29, %%zmm10\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm11\n vpdpbusd %%zmm30, %%zmm31, %%zmm12\n vpdpbusd %%zmm30, %%zmm31, %%zmm13\n vpdpbusd %%zmm30, %%zmm31, %%zmm14\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm15\n vpdpbusd %%zmm30, %%zmm31, %%zmm16\n vpdpbusd %%zmm30, %%zmm31, %%zmm17\n vpdpbusd %%zmm30, %%zmm31, %%zmm18\n"
    "vcvtdq2ps %%zmm29, %%zmm19\n vcvtdq2ps %%zmm29, %%zmm20\n vcvtdq2ps %%zmm29, %%zmm21\n"
    "dec %%rcx\n jnz 1b\n" : : "r"(it) : "rcx", "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","xmm16","xmm17","xmm18","xmm19","xmm20","xmm21","xmm29","xmm30","xmm31","cc");
  dt = now() - t0; printf("(e) 16 dpbusd + 6 cvtdq2ps: %.2f cycles per iteration\n", dt / it * 3.67e9);
  /* (f) 16 dpbusd + 8 vpandd + 4 vpsrlw (unpack) */
  t0 = now();
  __asm__ volatile("mov %0, %%rcx\n 1:\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n vpdpbusd %%zmm30, %%zmm31, %%zmm1\n vpdpbusd %%zmm30, %%zmm31, %%zmm2\n vpdpbusd %%zmm30, %%zmm31, %%zmm3\n"
    "vpandd %%zmm29, %%zmm28, %%zmm8\n vpsrlw $4, %%zmm28, %%zmm9\n vpandd %%zmm29, %%zmm9, %%zmm10\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n vpdpbusd %%zmm30, %%zmm31, %%zmm5\n vpdpbusd %%zmm30, %%zmm31, %%zmm6\n vpdpbusd %%zmm30, %%zmm31, %%zmm7\n"
    "vpandd %%zmm29, %%zmm27, %%zmm11\n vpsrlw $4, %%zmm27, %%zmm12\n vpandd %%zmm29, %%zmm12, %%zmm13\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm14\n vpdpbusd %%zmm30, %%zmm31, %%zmm15\n vpdpbusd %%zmm30, %%zmm31, %%zmm16\n vpdpbusd %%zmm30, %%zmm31, %%zmm17\n"
    "vpandd %%zmm29, %%zmm26, %%zmm18\n vpsrlw $4, %%zmm26, %%zmm19\n vpandd %%zmm29, %%zmm19, %%zmm20\n"
    "vpdpbusd %%zmm30, %%zmm31, %%zmm21\n vpdpbusd %%zmm30, %%zmm31, %%zmm22\n vpdpbusd %%zmm30, %%zmm31, %%zmm23\n vpdpbusd %%zmm30, %%zmm31, %%zmm24\n"
    "vpandd %%zmm29, %%zmm25, %%zmm8\n vpsrlw $4, %%zmm25, %%zmm9\n vpandd %%zmm29, %%zmm9, %%zmm10\n"
    "dec %%rcx\n jnz 1b\n" : : "r"(it) : "rcx", "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","xmm16","xmm17","xmm18","xmm19","xmm20","xmm21","xmm22","xmm23","xmm24","xmm25","xmm26","xmm27","xmm28","xmm29","xmm30","xmm31","cc");
  dt = now() - t0; printf("(f) 16 dpbusd + 12 unpack ops: %.2f cycles per iteration\n", dt / it * 3.67e9);
  return 0;
}
