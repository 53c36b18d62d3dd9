import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/**
 * More listening handles on a server's one listening socket, so that a busy event loop accepts more than one waiting
 * connection per iteration.
 *
 * Node 20's libuv (1.46, PR #3696 "unix: don't accept() connections in a loop") accepts ONE connection per listening
 * handle per event-loop iteration: epoll is level-triggered and reports the socket again at the next iteration. While
 * runs start, an iteration of the server takes 20-100 ms, so 16 clients connecting at once waited up to 16 iterations
 * for their connections (benchmark 10's burst: first requests p50 244 ms, while requests on open connections answered
 * at p99 42.5 ms). Each handle here has a file descriptor of its own for the same socket, so it is its own epoll
 * registration, and every one of them accepts one connection per iteration: K handles, K connections.
 *
 * Node has no dup(); a handle received over an IPC channel arrives as a new descriptor. So a short-lived helper
 * process is given the socket once and sends it back `copies` times (each send: a fresh descriptor here). Every
 * connection a copy accepts is handed to the server as if the server had accepted it ('connection'): TLS wrapping,
 * HTTP parsing, connection tracking (closeAllConnections on shutdown) and the connection guard all hang off that
 * event.
 */
export interface AcceptHandles {
  /**
   * Resolves to how many handles accept for the server, its own included, once the copies are listening (1 when they
   * could not be had, or the server closed first); the helper process has exited by then.
   */
  readonly ready: Promise<number>;
  /** Milliseconds the copies took to get, the helper's start and exit included (set when ready resolves). */
  readonly startMs: number;
  /** Stops the copies accepting, and any still to come (the server's own handle is the server's to close). */
  close(): void;
}

/** The helper: sends every handle it is given back as many times as asked, then exits when the channel closes. */
const HELPER_CODE = `
process.on('message', (m, handle) => {
  if (handle) for (let i = 0; i < m.copies; i++) process.send({ copy: i }, handle);
});
process.on('disconnect', () => process.exit(0));
`;

/** Node's TCP handle class, as the server keeps it (not a public type). */
type TcpHandle = object;

/**
 * Gives a listening `server` `handles - 1` more accepting handles. The server accepts with its own handle until they
 * come (`ready`); `opts.helper`, started ahead (startAcceptHelper), saves the helper's start. Never fails: if the
 * helper cannot be had (or its copies do not arrive within `opts.timeoutMs`), it says why through `warn` and the
 * server accepts with its own handle. The copies close with the server ('close') or at close().
 */
export function addAcceptHandles(
  server: net.Server,
  handles: number,
  warn: (why: string) => void,
  opts: { timeoutMs?: number; helper?: ChildProcess | null } = {},
): AcceptHandles {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const t0 = performance.now();
  const copies: net.Server[] = [];
  let closed = false;
  const out = {
    startMs: 0,
    ready: Promise.resolve(1),
    close() {
      closed = true;
      for (const c of copies.splice(0)) c.close();
    },
  };
  const own = (server as unknown as { _handle?: TcpHandle | null })._handle;
  if (handles <= 1 || !own || !server.listening) {
    opts.helper?.disconnect();
    return out;
  }
  server.once('close', () => out.close());
  out.ready = copiesOf(own, handles - 1, timeoutMs, opts.helper ?? startAcceptHelper()).then(
    (received) => {
      out.startMs = performance.now() - t0;
      if (closed) {
        for (const h of received) (h as { close(): void }).close();
        return 1;
      }
      for (const handle of received) copies.push(acceptFor(server, handle));
      return handles;
    },
    (e: Error) => {
      out.startMs = performance.now() - t0;
      if (!closed) warn(`one listening handle accepts connections (one per event-loop iteration): more could not be had (${e.message})`);
      return 1;
    },
  );
  return out;
}

/** A listening server on `handle` whose connections go to `server`, with the server's own socket options. */
function acceptFor(server: net.Server, handle: TcpHandle): net.Server {
  const s = server as net.Server & { allowHalfOpen: boolean; pauseOnConnect: boolean; noDelay: boolean; keepAlive: boolean; keepAliveInitialDelay: number; highWaterMark: number };
  const copy = new net.Server({
    allowHalfOpen: s.allowHalfOpen,
    pauseOnConnect: s.pauseOnConnect,
    noDelay: s.noDelay,
    keepAlive: s.keepAlive,
    // net.Server keeps it in seconds, takes it in milliseconds.
    keepAliveInitialDelay: s.keepAliveInitialDelay * 1000,
    highWaterMark: s.highWaterMark,
  });
  copy.maxConnections = server.maxConnections;
  copy.on('connection', (socket) => server.emit('connection', socket));
  // An error on a copy (EMFILE on accept) is the server's as it would be on its own handle.
  copy.on('error', (err) => server.emit('error', err));
  copy.listen(handle as never);
  return copy;
}

/**
 * The helper process, started ahead (its start is most of what the copies take: 50-250 ms here) so that a server can
 * start it before the rest of its start-up and have the copies moments after it listens. It exits once its channel
 * closes (addAcceptHandles closes it, and so does this process's end); it keeps nothing alive.
 */
export function startAcceptHelper(): ChildProcess {
  const helper = spawn(process.execPath, ['-e', HELPER_CODE], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  // An error (the executable cannot be started) is reported by copiesOf; unheard meanwhile, it would be thrown.
  helper.on('error', () => {});
  helper.unref();
  (helper.channel as { unref?: () => void } | undefined)?.unref?.();
  return helper;
}

/** `count` new descriptors for `handle`'s socket, through the helper process; the helper has exited on return. */
function copiesOf(handle: TcpHandle, count: number, timeoutMs: number, helper: ChildProcess): Promise<TcpHandle[]> {
  return new Promise((resolve, reject) => {
    const got: TcpHandle[] = [];
    let settled = false;
    if (!helper.connected) {
      reject(new Error(`the helper process is gone (${helper.signalCode ?? `exit code ${helper.exitCode}`})`));
      return;
    }
    // Its replies are awaited here: the channel keeps this process alive until then.
    (helper.channel as { ref?: () => void } | undefined)?.ref?.();
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      helper.kill('SIGKILL');
      for (const h of got) (h as { close(): void }).close();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`the helper process sent ${got.length} of ${count} in ${timeoutMs} ms`), timeoutMs);
    helper.on('error', (err) => fail(`the helper process: ${err.message}`));
    helper.on('message', (_m, h) => {
      if (!h || settled) return;
      got.push(h as TcpHandle);
      if (got.length === count) helper.disconnect();
    });
    helper.on('exit', (code, signal) => {
      if (got.length === count && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(got);
      } else fail(`the helper process ended (${signal ?? `exit code ${code}`}) having sent ${got.length} of ${count}`);
    });
    helper.send({ copies: count }, handle as never, (err) => {
      if (err) fail(`the socket could not be sent to the helper process: ${err.message}`);
    });
  });
}
