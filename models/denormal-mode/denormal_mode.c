/*
 * Sets the x86 FTZ (flush-to-zero) and DAZ (denormals-are-zero) bits of the
 * calling thread's MXCSR: a Node-API addon with one function,
 * flushDenormals(), returning the MXCSR after the change.
 *
 * Why: ONNX Runtime sets these bits for the threads that run a graph only on
 * its own pool threads and, once per process, on the thread that creates the
 * first session (see ../onnx-denormals.ts). An engine worker runs its graphs
 * on its own thread, so without this only one worker in a process flushes
 * denormals, and the others run fr_detect, fr_landmark and fr_feature
 * 17-32% slower. Nothing reachable from JavaScript or WebAssembly can set
 * MXCSR.
 *
 * No libc: built with -nostdlib, so the one binary loads wherever Node-API
 * does on x86-64 Linux (glibc or musl). Rebuilt by build.sh.
 */
#include <node_api.h>
#include <xmmintrin.h>

#define FTZ 0x8000u /* MXCSR bit 15 */
#define DAZ 0x0040u /* MXCSR bit 6 */

static napi_value flush_denormals(napi_env env, napi_callback_info info) {
  (void)info;
  _mm_setcsr(_mm_getcsr() | FTZ | DAZ);
  napi_value result;
  if (napi_create_uint32(env, _mm_getcsr(), &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "flushDenormals", NAPI_AUTO_LENGTH, flush_denormals, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "flushDenormals", fn) != napi_ok) return NULL;
  return exports;
}
