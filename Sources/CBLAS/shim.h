// OpenBLAS's CBLAS interface: every matrix product in evolve goes through cblas_sgemm,
// and openblas_set_num_threads lets a process choose its BLAS parallelism.
#include <cblas.h>
