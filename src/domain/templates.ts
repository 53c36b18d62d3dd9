import { invalid } from './errors.js';

/**
 * `{{ path }}` templates in automation overrides: a path is a root (event, run, body) followed by dot-separated
 * names, e.g. {{event.subject}}, {{run.env.MODEL_DIR}}, {{body.ref}}. A value that is missing renders as ''.
 */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^(event|run|body)(\.[A-Za-z0-9_-]+)*$/;

export function checkTemplate(text: string, field: string): void {
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (!PATH.test(m[1])) {
      throw invalid(field, `template {{${m[1]}}} must be a path under event, run or body, like {{event.subject}} or {{run.env.NAME}}`);
    }
  }
}

export function renderTemplate(text: string, ctx: Record<string, unknown>): string {
  return text.replace(PLACEHOLDER, (_all, path: string) => {
    let v: unknown = ctx;
    for (const k of path.split('.')) {
      if (v === null || typeof v !== 'object') return '';
      v = (v as Record<string, unknown>)[k];
    }
    if (v === undefined || v === null) return '';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}
