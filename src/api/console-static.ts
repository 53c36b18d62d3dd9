import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * The web console's built files (console/ built by Vite into dist/console), served by the API's own server at `/`.
 * The build is a handful of files (~410 KB), so they are read once at start and kept in memory with their gzip
 * form: no file-system access per request and no path from a URL ever reaches the file system, so there is nothing
 * to traverse. Hashed assets (`/assets/*-<hash>.js`) are cached forever; index.html is revalidated every time.
 */
export interface StaticFile {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  etag: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

export class ConsoleFiles {
  private constructor(private readonly files: Map<string, StaticFile>) {}

  /** Loads every file under `dir`; null when the console was not built (no index.html). */
  static load(dir: string): ConsoleFiles | null {
    if (!statSync(path.join(dir, 'index.html'), { throwIfNoEntry: false })?.isFile()) return null;
    const files = new Map<string, StaticFile>();
    const walk = (rel: string) => {
      for (const name of readdirSync(path.join(dir, rel))) {
        const r = rel ? `${rel}/${name}` : name;
        const st = statSync(path.join(dir, r));
        if (st.isDirectory()) walk(r);
        else if (st.isFile()) {
          const body = readFileSync(path.join(dir, r));
          const type = TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
          // Text compresses 3-4x; below 1 KB the header costs more than it saves.
          const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
          files.set('/' + r, {
            body,
            gzip: compressible ? gzipSync(body) : null,
            type,
            etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
            immutable: r.startsWith('assets/'),
          });
        }
      }
    };
    walk('');
    return new ConsoleFiles(files);
  }

  /**
   * The file for a URL path: an exact file, or index.html for the console's own routes (`/`, `/projects...`,
   * `/jobs...`, `/runs...`), so deep links such as /runs/<id> work after a reload. Anything else is not the
   * console's: null, so it gets the server's ordinary JSON 404.
   */
  lookup(urlPath: string): StaticFile | null {
    const exact = this.files.get(urlPath);
    if (exact) return exact;
    if (urlPath === '/' || CONSOLE_ROUTE.test(urlPath)) return this.files.get('/index.html') ?? null;
    return null;
  }
}

/** Paths the console's router answers (console/src/main.tsx). */
const CONSOLE_ROUTE = /^\/(projects|jobs|runs)(\/|$)/;

/** Content-Security-Policy of the console: everything from this origin, nothing else (the console has no CDN). */
export const CONSOLE_CSP =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
