// The console's only way to the server: the project's own SDK (src/sdk/client.ts, zero dependencies, global fetch)
// pointed at the origin the console was served from, plus the few calls the SDK does not wrap.
import { DsJobsClient, DsJobsError, type ServerInfo } from '../../src/sdk/client';

/** The session's CSRF token: sent in x-csrf-token with every request that changes something (the cookie goes by itself). */
let csrfToken: string | null = null;

export const client = new DsJobsClient({
  endpoint: window.location.origin,
  signer: (r): Record<string, string> => (r.method !== 'GET' && csrfToken ? { 'x-csrf-token': csrfToken } : {}),
});
export const API = '/20190101';

export interface ConsoleUser {
  userId: string;
  userName: string;
}

/** The logged-in user, or null (the session cookie is HttpOnly: only the server can tell). */
export async function currentSession(): Promise<ConsoleUser | null> {
  const res = await fetch(`${API}/console/session`, { cache: 'no-store' });
  if (res.status === 401) return null;
  if (!res.ok) throw new DsJobsError(res.status, 'Unknown', `session: HTTP ${res.status}`);
  const s = (await res.json()) as ConsoleUser & { csrfToken: string };
  csrfToken = s.csrfToken;
  return { userId: s.userId, userName: s.userName };
}

export async function login(userName: string, password: string): Promise<ConsoleUser> {
  const res = await fetch(`${API}/console/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userName, password }),
    cache: 'no-store',
  });
  const body = (await res.json()) as { code?: string; message?: string; userId: string; userName: string; csrfToken: string };
  if (!res.ok) throw new DsJobsError(res.status, body.code ?? 'Unknown', body.message ?? `HTTP ${res.status}`);
  csrfToken = body.csrfToken;
  return { userId: body.userId, userName: body.userName };
}

export async function logout(): Promise<void> {
  await fetch(`${API}/console/logout`, { method: 'POST', cache: 'no-store' });
  csrfToken = null;
}

let info: Promise<ServerInfo> | null = null;
/** Server info, fetched once per page load (it only changes on a server restart with another config). */
export function serverInfo(): Promise<ServerInfo> {
  info ??= client.serverInfo().catch((e) => {
    info = null;
    throw e;
  });
  return info;
}

const COMPARTMENT_KEY = 'dsjobs.compartmentId';

/** The compartment the console shows and creates in: the one picked in the header (kept in this browser), else the
 * server's default. */
export async function compartmentId(): Promise<string> {
  return pickedCompartmentId() ?? (await serverInfo()).defaultCompartmentId;
}

export function pickedCompartmentId(): string | null {
  try {
    return localStorage.getItem(COMPARTMENT_KEY);
  } catch {
    return null;
  }
}

/** Picks a compartment for this browser; null: back to the server's default. */
export function pickCompartmentId(id: string | null): void {
  if (id === null) localStorage.removeItem(COMPARTMENT_KEY);
  else localStorage.setItem(COMPARTMENT_KEY, id);
}

export interface MetricSeries {
  name: string;
  unit: string;
  datapoints: { timestamp: string; value: number }[];
}
export interface Metrics {
  intervalSeconds?: number;
  collected: boolean;
  reason: string | null;
  items: MetricSeries[];
}

/** GET /jobRuns/{id}/metrics; a server without the endpoint (404) is reported as "not collected". */
export async function runMetrics(runId: string): Promise<Metrics> {
  const res = await fetch(`${API}/jobRuns/${encodeURIComponent(runId)}/metrics`);
  if (res.status === 404) {
    // Also the answer for an unknown run, but the run page only asks for runs it has just loaded.
    return { collected: false, reason: null, items: [] };
  }
  if (!res.ok) throw new DsJobsError(res.status, 'Unknown', `metrics: HTTP ${res.status}`);
  return (await res.json()) as Metrics;
}

/** GET /jobRuns/{id}/notebook: a notebook run's executed notebook (parsed JSON); null while the run has none (404). */
export async function runNotebook(runId: string): Promise<unknown> {
  const res = await fetch(`${API}/jobRuns/${encodeURIComponent(runId)}/notebook`, { cache: 'no-store' });
  if (res.status === 404) return null;
  if (!res.ok) throw new DsJobsError(res.status, 'Unknown', `notebook: HTTP ${res.status}`);
  return res.json();
}

/** An API error split into the field it names and the reason ("<field>: <reason>", the API's message format). */
export interface FieldError {
  field: string | null;
  reason: string;
  message: string;
}

export function splitError(e: unknown): FieldError {
  const message = e instanceof Error ? e.message : String(e);
  const m = /^([A-Za-z][\w.[\]-]*(?: [\w.[\]-]+)?): (.+)$/s.exec(message);
  if (e instanceof DsJobsError && e.code === 'InvalidParameter' && m) return { field: m[1], reason: m[2], message };
  if (e instanceof DsJobsError && e.status === 0) return { field: null, reason: message, message };
  return { field: null, reason: e instanceof DsJobsError ? `${message} (${e.code})` : message, message };
}

/**
 * Which form control an API field belongs to: the longest matching prefix in `map` (field paths such as
 * `jobConfigurationDetails.environmentVariables.LD_PRELOAD` belong to the control of their parent).
 */
export function controlFor(field: string | null, map: Record<string, string>): string | null {
  if (!field) return null;
  let best: string | null = null;
  let bestLen = -1;
  for (const [prefix, control] of Object.entries(map)) {
    if ((field === prefix || field.startsWith(prefix + '.') || field.startsWith(prefix + '[')) && prefix.length > bestLen) {
      best = control;
      bestLen = prefix.length;
    }
  }
  return best;
}

/**
 * Shows an API error on a form: beside the control its field belongs to (`map`, as for `controlFor`), focused when
 * `focus` is set, or else in the form's banner.
 */
export function showFormError(
  err: unknown,
  map: Record<string, string>,
  setErrors: (errors: Record<string, string>) => void,
  setFormError: (err: unknown) => void,
  focus = true,
): void {
  const fe = splitError(err);
  const control = controlFor(fe.field, map);
  if (!control) return setFormError(err);
  setErrors({ [control]: fe.message });
  if (focus) document.getElementById(control)?.focus();
}

export { DsJobsError };
