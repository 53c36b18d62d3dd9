import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// The console is built into dist/console, which the server serves at `/` (src/api/console-static.ts).
// src/cli/job-spec.ts (the YAML job-spec reader the console reuses) imports four node modules for the parts that
// touch local files; in the browser they are replaced by the small shims in src/shims (see console/README.md).
export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  resolve: {
    alias: {
      'node:fs': here('./src/shims/node-fs.ts'),
      'node:os': here('./src/shims/node-os.ts'),
      'node:path': here('./src/shims/node-path.ts'),
      'node:url': here('./src/shims/node-url.ts'),
    },
  },
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
