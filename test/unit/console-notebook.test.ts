/** console/src/notebook.ts: an executed notebook as the run page's text cells. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notebookCells } from '../../console/src/notebook.js';

describe('notebookCells', () => {
  it('numbers cells as the driver does (markdown counted, the injected parameters cell not), with their outputs as text', () => {
    const cells = notebookCells({
      cells: [
        { cell_type: 'code', metadata: { tags: ['parameters'] }, source: ['a = 1\n', 'b = 2'], outputs: [], execution_count: 1 },
        { cell_type: 'code', metadata: { tags: ['injected-parameters'] }, source: 'a = 5', outputs: [] },
        { cell_type: 'markdown', metadata: {}, source: '# <b>Title</b>' },
        {
          cell_type: 'code',
          metadata: {},
          source: 'x',
          execution_count: 3,
          outputs: [
            { output_type: 'stream', name: 'stderr', text: ['warn\n'] },
            { output_type: 'execute_result', data: { 'text/plain': ['42'], 'text/html': ['<b>42</b>'] } },
            { output_type: 'display_data', data: { 'image/png': 'AAAA' } },
          ],
        },
        { cell_type: 'code', metadata: { dsjobs: { failed: true } }, source: 'raise E', outputs: [{ output_type: 'error', ename: 'E', evalue: 'v', traceback: ['\u001b[0;31mE\u001b[0m: v'] }] },
      ],
    });
    assert.deepEqual(
      cells.map((c) => [c.number, c.type, c.injected, c.failed]),
      [
        [1, 'code', false, false],
        [1, 'code', true, false],
        [2, 'markdown', false, false],
        [3, 'code', false, false],
        [4, 'code', false, true],
      ],
    );
    assert.equal(cells[0]!.source, 'a = 1\nb = 2');
    assert.equal(cells[0]!.executionCount, 1);
    assert.deepEqual(cells[3]!.outputs, [
      { kind: 'stderr', text: 'warn\n' },
      // The plain-text form, never the HTML one.
      { kind: 'result', text: '42' },
      { kind: 'result', text: '[image/png output]' },
    ]);
    assert.deepEqual(cells[4]!.outputs, [{ kind: 'error', text: 'E: v' }]);
  });

  it('refuses what is not a notebook', () => {
    assert.throws(() => notebookCells({ nope: 1 }), /not a notebook/);
    assert.throws(() => notebookCells(null), /not a notebook/);
  });
});
