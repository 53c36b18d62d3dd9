// A notebook run's executed notebook (GET /jobRuns/{id}/notebook) as text cells for the run page: every source and
// output is plain text, which React escapes when it draws it. Nothing of the notebook is ever inserted as HTML (its
// text/html outputs are shown by their text/plain form), so a run cannot put markup or scripts into the console.

export interface NotebookOutput {
  kind: 'stdout' | 'stderr' | 'result' | 'error';
  text: string;
}

export interface NotebookCell {
  /** The cell's place in the notebook, from 1 (the numbers the run's lifecycleDetails use). */
  number: number;
  type: 'code' | 'markdown' | 'raw';
  source: string;
  executionCount: number | null;
  outputs: NotebookOutput[];
  /** The cell that raised (the driver marks it metadata.dsjobs.failed). */
  failed: boolean;
  /** The cell the driver inserted with the run's parameters (not counted in the numbering). */
  injected: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** nbformat's multiline strings: a string or a list of lines. */
const text = (v: unknown): string => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : '')).join('') : typeof v === 'string' ? v : '');

// ESC [ ... letter: IPython colours its tracebacks.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

function output(o: unknown): NotebookOutput | null {
  if (!isObj(o)) return null;
  switch (o.output_type) {
    case 'stream':
      return { kind: o.name === 'stderr' ? 'stderr' : 'stdout', text: text(o.text) };
    case 'execute_result':
    case 'display_data': {
      const data = isObj(o.data) ? o.data : {};
      if ('text/plain' in data) return { kind: 'result', text: text(data['text/plain']) };
      const types = Object.keys(data);
      return { kind: 'result', text: `[${types.join(', ') || 'empty'} output]` };
    }
    case 'error': {
      const tb = Array.isArray(o.traceback) ? o.traceback.map((l) => text(l)).join('\n') : '';
      return { kind: 'error', text: (tb || `${text(o.ename)}: ${text(o.evalue)}`).replace(ANSI, '') };
    }
    default:
      return null;
  }
}

/** The notebook's cells, or throws when the document is not a notebook (nbformat 4: an object with `cells`). */
export function notebookCells(nb: unknown): NotebookCell[] {
  if (!isObj(nb) || !Array.isArray(nb.cells)) throw new Error('not a notebook (no cells)');
  let number = 0;
  return nb.cells.filter(isObj).map((c) => {
    const meta = isObj(c.metadata) ? c.metadata : {};
    const tags = Array.isArray(meta.tags) ? meta.tags : [];
    const injected = tags.includes('injected-parameters');
    if (!injected) number++;
    const type = c.cell_type === 'markdown' || c.cell_type === 'raw' ? c.cell_type : 'code';
    return {
      number,
      type,
      source: text(c.source),
      executionCount: typeof c.execution_count === 'number' ? c.execution_count : null,
      outputs: Array.isArray(c.outputs) ? c.outputs.map(output).filter((o): o is NotebookOutput => o !== null) : [],
      failed: isObj(meta.dsjobs) && meta.dsjobs.failed === true,
      injected,
    };
  });
}
