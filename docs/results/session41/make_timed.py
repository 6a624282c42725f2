"""Session 41: two copies of qkernels.c with timers (not the product), for rows_split.py and
draft_split.py: /tmp/s41/qk_timed.c times rt_layer's parts and rt_forward's head; qk_timed2.c times
rt_draft_round's parts. rt_timers(double[8]) reads and resets the sums (seconds)."""
import os
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../src/dspark/models/qkernels.c")
os.makedirs("/tmp/s41", exist_ok=True)
s = open(SRC).read()
s = s.replace("#include <unistd.h>", "#include <unistd.h>\n#include <time.h>\nstatic double TM[8];\n"
              "static double nowt(void){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+1e-9*t.tv_nsec;}\n"
              "void rt_timers(double *o){for(int i=0;i<8;i++){o[i]=TM[i];TM[i]=0;}}\n", 1)
a, b = s.index("void rt_layer(const layer_t *c"), s.index("/* A target model's constants for rt_forward")
body = s[a:b]
for old, new in [
    ("    layer_product(c, P_QKV, x, n, H, c->input_norm, c->qkv_bias, NULL, qkv, path);\n    rt_attention(",
     "    double t0 = nowt();\n    layer_product(c, P_QKV, x, n, H, c->input_norm, c->qkv_bias, NULL, qkv, path);\n"
     "    double t1 = nowt(); TM[0] += t1 - t0;\n    rt_attention("),
    ("last, c->window, c->scale, c->softcap, attn, path);\n    if (c->sandwich) {",
     "last, c->window, c->scale, c->softcap, attn, path);\n    double t2 = nowt(); TM[1] += t2 - t1;\n    if (c->sandwich) {"),
    ("    /* rows in parallel once", "    double t3 = nowt(); TM[2] += t3 - t2;\n    /* rows in parallel once"),
    ("    if (c->sandwich) {\n        layer_product(c, P_DOWN",
     "    double t4 = nowt(); TM[3] += t4 - t3;\n    if (c->sandwich) {\n        layer_product(c, P_DOWN"),
    ("    free(qkv); free(attn); free(mid); free(gu); free(a); free(h);\n}",
     "    TM[4] += nowt() - t4;\n    free(qkv); free(attn); free(mid); free(gu); free(a); free(h);\n}")]:
    assert old in body, old
    body = body.replace(old, new)
layers = s[:a] + body + s[b:]
one = layers.replace("    if (logits && c->head_w) {\n        float *picked",
                     "    double th = nowt();\n    if (logits && c->head_w) {\n        float *picked")
one = one.replace("        free(picked);\n    }\n", "        free(picked);\n    }\n    TM[5] += nowt() - th;\n", 1)
open("/tmp/s41/qk_timed.c", "w").write(one)
# the drafting round's parts (slots 6, 7, 5, 4), the layer timers off
two = s
a, b = two.index("void rt_draft_round("), two.index("/* A candidate of the nucleus")
body = two[a:b]
for old, new in [
    ("    if (m > 0) {                                   /* the context rows' keys and values */",
     "    double d0 = nowt();\n    if (m > 0) {                                   /* the context rows' keys and values */"),
    ("    float *x = malloc(sizeof(float) * (size_t)(g * H)), *y = malloc",
     "    double d1 = nowt(); TM[6] += d1 - d0;\n    float *x = malloc(sizeof(float) * (size_t)(g * H)), *y = malloc"),
    ("    rms_rows(x, g, H, c->final_norm, eps, hidden);",
     "    double d2 = nowt(); TM[7] += d2 - d1;\n    rms_rows(x, g, H, c->final_norm, eps, hidden);"),
    ("    if (greedy && c->w1) {                         /* the Markov loop, then the confidences */",
     "    double d3 = nowt(); TM[5] += d3 - d2;\n    if (greedy && c->w1) {                         /* the Markov loop, then the confidences */"),
    ("    free(x); free(y); free(slot); free(pos); free(last);\n}",
     "    TM[4] += nowt() - d3;\n    free(x); free(y); free(slot); free(pos); free(last);\n}")]:
    assert old in body, old
    body = body.replace(old, new)
open("/tmp/s41/qk_timed2.c", "w").write(two[:a] + body + two[b:])
print("wrote /tmp/s41/qk_timed.c, /tmp/s41/qk_timed2.c")
