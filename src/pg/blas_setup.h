/*
 * blas_setup.h - OpenBLAS in the processes that compute (blas_setup.c).
 */
#ifndef MLP_BLAS_SETUP_H
#define MLP_BLAS_SETUP_H

/* Loads OpenBLAS in this process on first use (ERROR when it cannot), logs the kernel once. */
extern void MlpEnsureBlas(void);

/* Loads OpenBLAS and sets the thread count for a forward pass of batch images now. */
extern void MlpScoringPrepareBlas(int batch);

#endif
