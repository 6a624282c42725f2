#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
static double now(void){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+1e-9*t.tv_nsec;}
#define SZ (256L<<20)
static char *buf; static volatile long sink;
typedef struct { long lo, hi; int pf; } arg_t;
__attribute__((target("avx512f"))) static void *rd(void *p){ arg_t *a=p; __m512i acc=_mm512_setzero_si512();
  for(long i=a->lo;i<a->hi;i+=64){ if(a->pf) __builtin_prefetch(buf+i+a->pf); acc=_mm512_xor_si512(acc,_mm512_load_si512((void*)(buf+i))); }
  long r[8]; _mm512_storeu_si512(r,acc); sink+=r[0]; return NULL; }
int main(){ buf=aligned_alloc(64,SZ); for(long i=0;i<SZ;i+=4096) buf[i]=1;
  for(int pf=0; pf<=4096; pf+= (pf? pf: 1024)) for(int th=1;th<=2;th++){ double best=1e9; for(int rep=0;rep<5;rep++){
    pthread_t t[2]; arg_t a[2]; double t0=now();
    for(int k=0;k<th;k++){ a[k].lo=SZ/th*k; a[k].hi=SZ/th*(k+1); a[k].pf=pf; pthread_create(&t[k],0,rd,&a[k]); }
    for(int k=0;k<th;k++) pthread_join(t[k],0); double dt=now()-t0; if(dt<best)best=dt; }
    printf("threads %d prefetch %d: %.1f GB/s\n", th, pf, SZ/best/1e9); }
  return 0; }
