/**
 * The notebook driver (src/job-spec/drivers/notebook-driver.ts) run directly with /usr/bin/python3 and Debian's
 * Jupyter, without a server: what it leaves behind (the executed notebook) and a kernel that dies mid-cell.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { NOTEBOOK_DRIVER_NAME, NOTEBOOK_DRIVER_PY } from '../../src/job-spec/drivers/notebook-driver.js';

const haveJupyter = existsSync('/usr/bin/python3') && existsSync('/usr/share/jupyter/kernels/python3/kernel.json');
const skip = !haveJupyter && process.env.CI !== 'true' ? 'Jupyter (python3-ipykernel) is not installed: run scripts/setup-host.sh' : false;
const dir = mkdtempSync(path.join(os.tmpdir(), 'nb-driver-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cells: string[]) {
  mkdirSync(path.join(dir, 'code'), { recursive: true });
  writeFileSync(path.join(dir, NOTEBOOK_DRIVER_NAME), NOTEBOOK_DRIVER_PY);
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((source, i) => ({ id: `c${i}`, cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null })),
  };
  writeFileSync(path.join(dir, 'code', 'n.ipynb'), JSON.stringify(nb));
  const r = spawnSync('/usr/bin/python3', [path.join(dir, NOTEBOOK_DRIVER_NAME)], {
    env: { ...process.env, JOB_RUN_NOTEBOOK: 'code/n.ipynb' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const executed = JSON.parse(readFileSync(path.join(dir, 'code', 'n.executed.ipynb'), 'utf8')) as { cells: any[] };
  return { ...r, executed };
}

test('the executed notebook keeps every output and marks the cell that raised', { skip }, () => {
  const r = run(['print("kept")\n21 * 2', 'raise KeyError("k")', 'print("not run")']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^DSJOBS_FAILURE: notebook: cell 2 raised KeyError: 'k'$/m);
  const [first, second, third] = r.executed.cells;
  assert.deepEqual(first.outputs.map((o: any) => o.output_type), ['stream', 'execute_result']);
  // nbformat stores multi-line strings as lists of lines.
  assert.equal([first.outputs[1].data['text/plain']].flat().join(''), '42');
  assert.equal(second.outputs[0].ename, 'KeyError');
  assert.deepEqual(second.metadata.dsjobs, { failed: true });
  assert.deepEqual(third.outputs, []);
});

test('a kernel that dies in a cell fails the run instead of waiting forever', { skip }, () => {
  const r = run(['print("before")', 'import os\nos._exit(9)', 'print("after")']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /cell 2 raised DeadKernelError: the kernel exited while running the cell/);
  assert.doesNotMatch(r.stdout, /after/);
});
