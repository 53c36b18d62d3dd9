import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// The console is built into dist/console, which the server serves at `/` (src/api/console-static.ts).
// The YAML job-spec reader the console reuses (src/job-spec/) needs no Node module: what it looks at on disk is
// given to it (see console/README.md).
export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  build: {
    outDir: here('../dist/console'),
    emptyOutDir: true,
    target: 'es2022',
    // No source maps in the served build: they would double its size; the sources are in the repository.
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  oxc: { jsx: { runtime: 'automatic' } },
});
