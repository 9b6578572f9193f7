/** The kernel patches registered in this process ("backend:Kernel(what)"), for run records. */
export const patchedKernels = new Set<string>();
