// The ADS runtime types read by a file of their own, by type (ads.ts dispatches here).
import { GIT_PYTHON_READER } from './git-python.js';
import { NOTEBOOK_READER } from './notebook.js';
import { PYTORCH_READER } from './pytorch-distributed.js';
import type { AdsRuntimeReader } from './runtime-reader.js';

export const ADS_RUNTIME_READERS: Record<string, AdsRuntimeReader> = {
  gitPython: GIT_PYTHON_READER,
  notebook: NOTEBOOK_READER,
  pyTorchDistributed: PYTORCH_READER,
};
