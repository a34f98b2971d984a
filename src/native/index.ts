/** Minimal loader (JS kernels only) until the native addon loader lands. */
import type { Kernels } from './kernels.js';
import { jsKernels } from './js-kernels.js';

export let kernels: Kernels = jsKernels;
export let backend: 'native' | 'js' = 'js';
export function nativeKernels(): Kernels | null {
  return null;
}
export function setBackend(name: 'js' | 'native'): void {
  if (name === 'native') throw new Error('native kernels are not built');
  kernels = jsKernels;
  backend = 'js';
}
