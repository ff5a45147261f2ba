// OpenBLAS's CBLAS interface: every matrix product in evolve goes through cblas_sgemm,
// and openblas_set_num_threads lets a process choose its BLAS parallelism.
#include <cblas.h>

#if defined(__x86_64__)
#include <xmmintrin.h>
// Flush denormals to zero (FTZ) and read them as zero (DAZ) on the calling thread.
// Tiny values deep in a softmax or a GELU tail are otherwise ~100x slower to compute.
static inline void evolve_flush_denormals(void) { _mm_setcsr(_mm_getcsr() | 0x8040); }
#else
static inline void evolve_flush_denormals(void) {}
#endif

// LAPACK's SVD (column-major, Fortran calling convention), as OpenBLAS exports it.
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *lda,
             double *s, double *u, const int *ldu, double *vt, const int *ldvt,
             double *work, const int *lwork, int *info);
