// PLACEHOLDER: the blocked GEMM arrives with the convolution work.
