// Shared pieces of the console: state badges, labelled fields with their API error, pagers, editors for env vars,
// storage mounts and shapes, tabs, and formatting.
import { useCallback, useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { JobShapeSummary, Page } from '../../src/sdk/client';
import { client, splitError } from './api';

export const ACTIVE_RUN_STATES = new Set(['ACCEPTED', 'IN_PROGRESS', 'CANCELING', 'NEEDS_ATTENTION']);
export const RUN_STATES = ['ACCEPTED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELING', 'CANCELED', 'NEEDS_ATTENTION', 'DELETED'];

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge badge-${state.toLowerCase()}`}>{state}</span>;
}

/** Attributes that tie a control to its label's error message. */
export function fieldProps(id: string, error?: string | null) {
  return { id, 'aria-invalid': error ? true : undefined, 'aria-describedby': error ? `${id}-error` : undefined } as const;
}

export function Field(props: { id: string; label: string; error?: string | null; hint?: ReactNode; children: ReactNode }) {
  return (
    <div className={`field${props.error ? ' field-invalid' : ''}`} data-field={props.id}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <div className="hint">{props.hint}</div>}
      <FieldError id={props.id} error={props.error} />
    </div>
  );
}

/** A control's error message, announced, under the id its control's aria-describedby names (fieldProps). */
function FieldError({ id, error }: { id: string; error?: string | null }) {
  if (!error) return null;
  return (
    <div className="field-error" id={`${id}-error`} role="alert">
      {error}
    </div>
  );
}

export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="banner banner-error" role="alert">
      {splitError(error).message}
    </div>
  );
}

export function fmtTime(t?: string | null): string {
  if (!t) return '—';
  const d = new Date(t);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

export function fmtBytes(n?: number | null): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** base64 MD5 (what the API sends) as the hex form people compare with `md5sum`. */
export function md5Hex(b64?: string | null): string {
  if (!b64) return '—';
  try {
    return Array.from(atob(b64), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  } catch {
    return b64;
  }
}

/**
 * One page of a server-side list at a time (never the whole list): Next follows the API's opc-next-page token,
 * Previous goes back through the tokens seen. (Live views do not use this: they follow the events stream, see live-list.ts.)
 */
export function usePaged<T>(fetchPage: (page?: string) => Promise<Page<T>>, key: string) {
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const [data, setData] = useState<Page<T> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const token = tokens[tokens.length - 1];

  useEffect(() => {
    setTokens([undefined]);
  }, [key]);

  useEffect(() => {
    let stop = false;
    const load = async () => {
      setLoading(true);
      try {
        const p = await fetchRef.current(token);
        if (stop) return;
        setData(p);
        setError(null);
      } catch (e) {
        if (!stop) setError(e);
      } finally {
        if (!stop) setLoading(false);
      }
    };
    void load();
    return () => {
      stop = true;
    };
  }, [token, key]);

  const next = useCallback(() => {
    if (data?.nextPage) setTokens((t) => [...t, data.nextPage!]);
  }, [data]);
  const prev = useCallback(() => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t)), []);
  return { items: data?.items ?? [], loaded: data !== null, loading, error, next, prev, hasNext: Boolean(data?.nextPage), hasPrev: tokens.length > 1, pageNo: tokens.length };
}

export function Pager(p: { label: string; pageNo: number; hasPrev: boolean; hasNext: boolean; onPrev: () => void; onNext: () => void }) {
  return (
    <nav className="pager" aria-label={`${p.label} pages`}>
      <button type="button" onClick={p.onPrev} disabled={!p.hasPrev}>
        ← Previous
      </button>
      <span aria-live="polite">Page {p.pageNo}</span>
      <button type="button" onClick={p.onNext} disabled={!p.hasNext}>
        Next →
      </button>
    </nav>
  );
}

export interface EnvRow {
  key: string;
  value: string;
}

export function envToRows(env?: Record<string, string> | null): EnvRow[] {
  return Object.entries(env ?? {}).map(([key, value]) => ({ key, value }));
}

export function rowsToEnv(rows: EnvRow[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const r of rows) if (r.key.trim() !== '') out[r.key.trim()] = r.value;
  return Object.keys(out).length ? out : undefined;
}

/** Key/value rows for environment variables; `id` labels the group and receives the group's error. */
export function EnvEditor(p: { id: string; label: string; rows: EnvRow[]; onChange: (r: EnvRow[]) => void; error?: string | null }) {
  const set = (i: number, patch: Partial<EnvRow>) => p.onChange(p.rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className={`field group${p.error ? ' field-invalid' : ''}`} data-field={p.id} aria-describedby={p.error ? `${p.id}-error` : undefined}>
      <legend>{p.label}</legend>
      {p.rows.map((r, i) => (
        <div className="row" key={i}>
          <label className="sr-only" htmlFor={`${p.id}-key-${i}`}>
            Name of variable {i + 1}
          </label>
          <input id={`${p.id}-key-${i}`} placeholder="NAME" value={r.key} onChange={(e) => set(i, { key: e.target.value })} aria-invalid={p.error ? true : undefined} />
          <span aria-hidden="true">=</span>
          <label className="sr-only" htmlFor={`${p.id}-value-${i}`}>
            Value of variable {i + 1}
          </label>
          <input id={`${p.id}-value-${i}`} placeholder="value" value={r.value} onChange={(e) => set(i, { value: e.target.value })} />
          <button type="button" className="secondary" onClick={() => p.onChange(p.rows.filter((_, j) => j !== i))} aria-label={`Remove variable ${r.key || i + 1}`}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" className="secondary" id={p.id} onClick={() => p.onChange([...p.rows, { key: '', value: '' }])}>
        Add variable
      </button>
      <FieldError id={p.id} error={p.error} />
    </fieldset>
  );
}

export interface MountRow {
  storageType: 'OBJECT_STORAGE' | 'FILE_STORAGE';
  destinationDirectoryName: string;
  destinationPath: string;
  namespace: string;
  bucket: string;
  prefix: string;
  mountTargetId: string;
  exportId: string;
}

export function mountsToRows(list?: Record<string, unknown>[] | null): MountRow[] {
  return (list ?? []).map((m) => ({
    storageType: (m.storageType as MountRow['storageType']) ?? 'OBJECT_STORAGE',
    destinationDirectoryName: String(m.destinationDirectoryName ?? ''),
    destinationPath: String(m.destinationPath ?? ''),
    namespace: String(m.namespace ?? ''),
    bucket: String(m.bucket ?? ''),
    prefix: String(m.prefix ?? ''),
    mountTargetId: String(m.mountTargetId ?? ''),
    exportId: String(m.exportId ?? ''),
  }));
}

export function rowsToMounts(rows: MountRow[]) {
  return rows.map((r) => {
    const out: Record<string, string> = { storageType: r.storageType, destinationDirectoryName: r.destinationDirectoryName };
    if (r.destinationPath) out.destinationPath = r.destinationPath;
    if (r.storageType === 'OBJECT_STORAGE') {
      out.namespace = r.namespace;
      out.bucket = r.bucket;
      if (r.prefix) out.prefix = r.prefix;
    } else {
      out.mountTargetId = r.mountTargetId;
      out.exportId = r.exportId;
    }
    return out as never;
  });
}

export function MountsEditor(p: { id: string; rows: MountRow[]; onChange: (r: MountRow[]) => void; error?: string | null }) {
  const set = (i: number, patch: Partial<MountRow>) => p.onChange(p.rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const text = (i: number, k: keyof MountRow, label: string) => (
    <span className="inline-field">
      <label htmlFor={`${p.id}-${k}-${i}`}>{label}</label>
      <input id={`${p.id}-${k}-${i}`} value={p.rows[i][k]} onChange={(e) => set(i, { [k]: e.target.value } as Partial<MountRow>)} />
    </span>
  );
  return (
    <fieldset className={`field group${p.error ? ' field-invalid' : ''}`} data-field={p.id} aria-describedby={p.error ? `${p.id}-error` : undefined}>
      <legend>Storage mounts</legend>
      {p.rows.map((r, i) => (
        <div className="mount" key={i}>
          <span className="inline-field">
            <label htmlFor={`${p.id}-type-${i}`}>Type</label>
            <select id={`${p.id}-type-${i}`} value={r.storageType} onChange={(e) => set(i, { storageType: e.target.value as MountRow['storageType'] })}>
              <option value="OBJECT_STORAGE">Object storage</option>
              <option value="FILE_STORAGE">File storage</option>
            </select>
          </span>
          {r.storageType === 'OBJECT_STORAGE' ? (
            <>
              {text(i, 'namespace', 'Namespace')}
              {text(i, 'bucket', 'Bucket')}
              {text(i, 'prefix', 'Prefix')}
            </>
          ) : (
            <>
              {text(i, 'mountTargetId', 'Mount target')}
              {text(i, 'exportId', 'Export')}
            </>
          )}
          {text(i, 'destinationPath', 'Destination path')}
          {text(i, 'destinationDirectoryName', 'Directory name')}
          <button type="button" className="secondary" onClick={() => p.onChange(p.rows.filter((_, j) => j !== i))} aria-label={`Remove mount ${i + 1}`}>
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="secondary"
        id={p.id}
        onClick={() =>
          p.onChange([
            ...p.rows,
            { storageType: 'OBJECT_STORAGE', destinationDirectoryName: '', destinationPath: '/mnt', namespace: '', bucket: '', prefix: '', mountTargetId: '', exportId: '' },
          ])
        }
      >
        Add mount
      </button>
      <FieldError id={p.id} error={p.error} />
    </fieldset>
  );
}

let shapesCache: Promise<JobShapeSummary[]> | null = null;
export function useShapes(): JobShapeSummary[] {
  const [shapes, setShapes] = useState<JobShapeSummary[]>([]);
  useEffect(() => {
    shapesCache ??= client.listJobShapes().catch((e) => {
      shapesCache = null;
      throw e;
    });
    shapesCache.then(setShapes, () => setShapes([]));
  }, []);
  return shapes;
}

export interface ShapeValue {
  shapeName: string;
  ocpus: string;
  memoryInGBs: string;
}

/** Shape select, with OCPUs and memory for flex shapes. Errors: keys `shape`, `ocpus`, `memory`. */
export function ShapeFields(p: { idPrefix: string; value: ShapeValue; onChange: (v: ShapeValue) => void; errors: Record<string, string | undefined>; allowEmpty?: string }) {
  const shapes = useShapes();
  const current = shapes.find((s) => s.name === p.value.shapeName);
  const id = (k: string) => `${p.idPrefix}${k}`;
  return (
    <>
      <Field id={id('shape')} label="Shape" error={p.errors.shape}>
        <select {...fieldProps(id('shape'), p.errors.shape)} value={p.value.shapeName} onChange={(e) => p.onChange({ ...p.value, shapeName: e.target.value })}>
          {p.allowEmpty !== undefined && <option value="">{p.allowEmpty}</option>}
          {p.value.shapeName && !current && shapes.length > 0 && <option value={p.value.shapeName}>{p.value.shapeName} (not offered by this server)</option>}
          {shapes.map((s) => (
            <option key={s.name} value={s.name}>
              {s.name} — {s.isFlex ? `flex, up to ${s.maxOcpusHere ?? s.coreCount} OCPU, ${s.maxMemoryInGBsHere ?? s.memoryInGBs} GB here` : `${s.coreCount} OCPU, ${s.memoryInGBs} GB`}
              {s.gpuCount ? `, ${s.gpuCount} GPU` : ''}
              {s.isDefault ? ' (default)' : ''}
            </option>
          ))}
        </select>
      </Field>
      {current?.isFlex && (
        <div className="row">
          <Field id={id('ocpus')} label="OCPUs" error={p.errors.ocpus}>
            <input type="number" step="any" min="0" {...fieldProps(id('ocpus'), p.errors.ocpus)} value={p.value.ocpus} onChange={(e) => p.onChange({ ...p.value, ocpus: e.target.value })} />
          </Field>
          <Field id={id('memory')} label="Memory (GB)" error={p.errors.memory}>
            <input type="number" step="any" min="0" {...fieldProps(id('memory'), p.errors.memory)} value={p.value.memoryInGBs} onChange={(e) => p.onChange({ ...p.value, memoryInGBs: e.target.value })} />
          </Field>
        </div>
      )}
    </>
  );
}

export function shapeConfig(v: ShapeValue, isFlex: boolean) {
  if (!isFlex) return undefined;
  const c: { ocpus?: number; memoryInGBs?: number } = {};
  if (v.ocpus !== '') c.ocpus = Number(v.ocpus);
  if (v.memoryInGBs !== '') c.memoryInGBs = Number(v.memoryInGBs);
  return Object.keys(c).length ? c : undefined;
}

/** Tabs per the WAI-ARIA pattern: arrow keys move between tabs, Tab moves into the panel. */
export function Tabs(p: { label: string; tabs: { id: string; label: string }[]; selected: string; onSelect: (id: string) => void }) {
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const key = (e: KeyboardEvent) => {
    const i = p.tabs.findIndex((t) => t.id === p.selected);
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % p.tabs.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + p.tabs.length) % p.tabs.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = p.tabs.length - 1;
    if (j >= 0) {
      e.preventDefault();
      p.onSelect(p.tabs[j].id);
      refs.current[p.tabs[j].id]?.focus();
    }
  };
  return (
    <div role="tablist" aria-label={p.label} className="tabs" onKeyDown={key}>
      {p.tabs.map((t) => (
        <button
          key={t.id}
          ref={(el) => {
            refs.current[t.id] = el;
          }}
          type="button"
          role="tab"
          id={`tab-${t.id}`}
          aria-selected={p.selected === t.id}
          aria-controls={`panel-${t.id}`}
          tabIndex={p.selected === t.id ? 0 : -1}
          onClick={() => p.onSelect(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · dsjobs` : 'dsjobs';
  }, [title]);
}

/** Polls `load` every `ms` (after each answer) until `until` says stop; returns the latest value. */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], ms: number, until?: (v: T) => boolean) {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const v = await load();
        if (stop) return;
        setValue(v);
        setError(null);
        if (until?.(v)) return;
      } catch (e) {
        if (stop) return;
        setError(e);
      }
      timer = setTimeout(run, ms);
    };
    void run();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { value, error, reload: () => setTick((t) => t + 1) };
}
