import { useEffect, useState } from 'react';
import { runNotebook } from '../api';
import { notebookCells, type NotebookCell } from '../notebook';
import { ErrorBanner } from '../ui';

/**
 * A finished notebook run's executed notebook, drawn as text: each cell's source and outputs, the cell that raised
 * highlighted. Everything goes through React's text escaping (notebook.ts says why nothing is HTML).
 */
export function NotebookPanel({ runId }: { runId: string }) {
  const [cells, setCells] = useState<NotebookCell[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    runNotebook(runId).then(
      (nb) => {
        if (!live) return;
        if (nb === null) setMissing(true);
        else {
          try {
            setCells(notebookCells(nb));
          } catch (e) {
            setError(e);
          }
        }
      },
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [runId]);
  return (
    <section aria-labelledby="notebook-title" data-testid="notebook">
      <div className="title-row">
        <h2 id="notebook-title">Executed notebook</h2>
        <span className="spacer" />
        {cells && (
          <a href={`/20190101/jobRuns/${encodeURIComponent(runId)}/notebook`} download={`${runId}.ipynb`}>
            Download .ipynb
          </a>
        )}
      </div>
      <ErrorBanner error={error} />
      {missing && <p>The run kept no executed notebook (it ended before its notebook driver wrote one).</p>}
      {!cells && !missing && !error && <p>Loading…</p>}
      {cells && (
        <ol className="notebook">
          {cells.map((c, i) => (
            <li
              key={i}
              className={`nb-cell nb-${c.type}${c.failed ? ' nb-failed' : ''}`}
              data-testid={c.failed ? 'notebook-failed-cell' : 'notebook-cell'}
              aria-label={c.injected ? 'Injected parameters cell' : `Cell ${c.number}${c.failed ? ', raised an error' : ''}`}
            >
              <div className="nb-label">
                {c.injected ? 'parameters (injected)' : c.type === 'code' ? `[${c.executionCount ?? ' '}] cell ${c.number}` : `cell ${c.number} (${c.type})`}
                {c.failed && <strong className="nb-raised"> raised here</strong>}
              </div>
              <pre className="nb-source">{c.source}</pre>
              {c.outputs.map((o, j) => (
                <pre key={j} className={`nb-output nb-${o.kind}`}>
                  {o.text}
                </pre>
              ))}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
