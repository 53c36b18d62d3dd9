// One server-side page of a list (never the whole list), kept current by the events API instead of polling: the
// page is loaded once the event stream stands, then each event's resource is applied to it in place.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Page } from '../../src/sdk/client';
import { followEvents, type CloudEvent, type EventFilter, type LiveStatus } from './live';

export interface LivePagedOptions<T extends { id: string }> {
  fetchPage: (page?: string) => Promise<Page<T>>;
  /** The view's filters: a change starts again at page 1 with a new event stream. */
  key: string;
  pageSize: number;
  /** The events this list needs (async: the compartment is asked of the server). */
  filter: () => Promise<EventFilter>;
  /** The list item an event carries, or null when the event is not about this list's items. */
  itemOf: (e: CloudEvent) => T | null;
  /** Whether an item belongs in this list under the view's filters (what the server would answer). */
  matches: (item: T) => boolean;
  /** Whether `next` may replace `shown` (false for an event older than the loaded page). */
  newer: (next: T, shown: T) => boolean;
  /** The server's order: negative when `a` comes before `b`. */
  order: (a: T, b: T) => number;
  /** Every event, for what the view shows besides the list. */
  onEvents?: (events: CloudEvent[]) => void;
  /** Called after each (re)load of the page, e.g. to reload what the view shows besides the list. */
  onLoaded?: () => void;
}

interface Data<T> {
  items: T[];
  nextPage: string | null;
  /** Items were pushed off the end of this page: the next page's token must be asked again (see next()). */
  nextStale: boolean;
}

/** Membership changes a page cannot work out by itself (a row left a full page) are loaded after this quiet time. */
const RELOAD_DEBOUNCE_MS = 300;

export function useLivePaged<T extends { id: string }>(o: LivePagedOptions<T>) {
  const opts = useRef(o);
  opts.current = o;
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const tokensRef = useRef(tokens);
  tokensRef.current = tokens;
  const [data, setDataState] = useState<Data<T> | null>(null);
  const dataRef = useRef<Data<T> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [status, setStatus] = useState<LiveStatus>('connecting');
  // Events that arrive while a page is being loaded wait for it: the answer may be older or newer than they are.
  const held = useRef<CloudEvent[] | null>(null);
  const gen = useRef(0);
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const setData = (d: Data<T> | null) => {
    dataRef.current = d;
    setDataState(d);
  };

  const apply = useCallback((events: CloudEvent[]) => {
    const d = dataRef.current;
    if (!d) return;
    const { itemOf, matches, newer, order, pageSize } = opts.current;
    const items = d.items.slice();
    let nextPage = d.nextPage;
    let nextStale = d.nextStale;
    let reload = false;
    let changed = false;
    for (const ev of events) {
      const x = itemOf(ev);
      if (!x) continue;
      const i = items.findIndex((it) => it.id === x.id);
      if (i >= 0) {
        if (!newer(x, items[i])) continue;
        changed = true;
        if (matches(x)) items[i] = x;
        else {
          items.splice(i, 1);
          // The next page's first row now belongs here; only the server knows which it is.
          if (nextPage) reload = true;
        }
      } else if (matches(x)) {
        let pos = items.findIndex((it) => order(x, it) < 0);
        if (pos === -1) pos = items.length;
        if (pos === 0 && tokensRef.current.length > 1) continue; // it belongs on an earlier page
        if (pos === items.length && nextPage) continue; // on a later page
        items.splice(pos, 0, x);
        changed = true;
        if (items.length > pageSize) {
          items.length = pageSize;
          nextStale = true;
          nextPage ??= '';
        }
      }
    }
    if (changed) setData({ items, nextPage, nextStale });
    if (reload) {
      clearTimeout(reloadTimer.current);
      reloadTimer.current = setTimeout(() => void load(), RELOAD_DEBOUNCE_MS);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const deliver = useCallback(
    (events: CloudEvent[]) => {
      opts.current.onEvents?.(events);
      if (held.current) held.current.push(...events);
      else apply(events);
    },
    [apply],
  );

  /** Loads the current page; events received meanwhile are applied after it. Returns the page. */
  const load = useCallback(async (token = tokensRef.current[tokensRef.current.length - 1]): Promise<Page<T> | null> => {
    // Only the latest load counts (a reconnection can start one while another is on its way).
    const g = ++gen.current;
    held.current ??= [];
    setLoading(true);
    try {
      const p = await opts.current.fetchPage(token);
      if (g !== gen.current) return null;
      setData({ items: p.items, nextPage: p.nextPage ?? null, nextStale: false });
      setError(null);
      opts.current.onLoaded?.();
      return p;
    } catch (e) {
      if (g === gen.current) setError(e);
      return null;
    } finally {
      if (g === gen.current) {
        setLoading(false);
        const h = held.current ?? [];
        held.current = null;
        if (h.length) apply(h);
      }
    }
  }, [apply]);

  // The event stream, for as long as the view's filters stay the same.
  useEffect(() => {
    gen.current++;
    held.current = null;
    tokensRef.current = [undefined];
    setTokens([undefined]);
    setData(null);
    let stop: (() => void) | null = null;
    let cancelled = false;
    void opts.current.filter().then(
      (filter) => {
        if (cancelled) return;
        stop = followEvents({ filter, onEvents: deliver, resync: async () => void (await load()), onStatus: setStatus });
      },
      (e) => setError(e),
    );
    return () => {
      cancelled = true;
      stop?.();
      clearTimeout(reloadTimer.current);
    };
  }, [o.key, deliver, load]);

  const turn = (next: (string | undefined)[]) => {
    tokensRef.current = next;
    setTokens(next);
    void load(next[next.length - 1]);
  };
  const next = useCallback(async () => {
    const d = dataRef.current;
    if (!d?.nextPage && !d?.nextStale) return;
    let token = d.nextPage;
    if (d.nextStale) {
      // Rows were pushed off this page since it was loaded: the old token would skip them.
      const p = await load();
      token = p?.nextPage ?? null;
    }
    if (token) turn([...tokensRef.current, token]);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [load]);
  const prev = useCallback(() => {
    if (tokensRef.current.length > 1) turn(tokensRef.current.slice(0, -1));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [load]);

  return {
    items: data?.items ?? [],
    loaded: data !== null,
    loading,
    error,
    status,
    next,
    prev,
    hasNext: Boolean(data?.nextPage || data?.nextStale),
    hasPrev: tokens.length > 1,
    pageNo: tokens.length,
  };
}

/** Runs in the API's default order: newest accepted first (ties by id, descending, as the server breaks them). */
export function runOrder(a: { timeAccepted: string; id: string }, b: { timeAccepted: string; id: string }): number {
  const ta = Date.parse(a.timeAccepted);
  const tb = Date.parse(b.timeAccepted);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Jobs in the API's default order: newest created first. */
export function jobOrder(a: { timeCreated: string; id: string }, b: { timeCreated: string; id: string }): number {
  const ta = Date.parse(a.timeCreated);
  const tb = Date.parse(b.timeCreated);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Re-renders every `ms` while `on` (durations of running runs grow without anything being fetched). */
export function useTicker(on: boolean, ms = 1000): void {
  const [, setT] = useState(0);
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setT((x) => x + 1), ms);
    return () => clearInterval(t);
  }, [on, ms]);
}
