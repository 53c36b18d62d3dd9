/**
 * The server ahead of runs where no cgroup can weigh them (issue 25's fallback): with cgroups off, every run process
 * gets nice `runsNice` and the lowest best-effort I/O priority, inherited from the process that starts runs, and the
 * start-up report says so; where the cgroup weight is in force, runs keep nice 0 (the weight does the work).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createJob, readLogs, startRun, startServer, waitForRun, type TestServer } from '../support/server.js';

let noCgroups: TestServer;
let withCgroups: TestServer;

before(async () => {
  [noCgroups, withCgroups] = await Promise.all([startServer({ env: { DSJOBS_CGROUPS: 'off', DSJOBS_RUNS_NICE: '12' } }), startServer()]);
});
after(async () => {
  await Promise.all([noCgroups?.close(), withCgroups?.close()]);
});

// The run's own shell: its niceness (field 19 of /proc/PID/stat; bash's name has no spaces) and I/O priority.
const PROBE = 'echo "nice $(cut -d" " -f19 /proc/$$/stat)"\necho "io $(ionice -p $$)"\n';

async function probe(s: TestServer): Promise<string[]> {
  const job = await createJob(s, 'probe.sh', PROBE);
  const run = await waitForRun(s.api, (await startRun(s, job)).id);
  const out = (await readLogs(s, run.id)).filter((l) => l.stream === 'stdout').map((l) => l.message);
  assert.equal(run.lifecycleState, 'SUCCEEDED', out.join('\n'));
  return out;
}

async function reportLine(s: TestServer): Promise<string> {
  // The report's lines follow the one startServer waits for.
  for (let i = 0; i < 100 && !/the server ahead of runs:/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 50));
  return /the server ahead of runs: [^\n]*/.exec(s.output())?.[0] ?? '(no line)';
}

test('without cgroups, runs get the configured nice value and the lowest I/O priority, and the report says so', async () => {
  assert.match(await reportLine(noCgroups), /no cgroup cpu controller, so runs get nice 12 \(runsNice\) and the lowest best-effort I\/O priority instead/);
  const out = await probe(noCgroups);
  assert.deepEqual(out, ['nice 12', 'io best-effort: prio 7']);
});

test('where the cgroup weight is in force, runs keep the server\'s priority', async () => {
  const line = await reportLine(withCgroups);
  const out = await probe(withCgroups);
  if (/cpu\.(shares|weight) \d+ for all runs together/.test(line)) assert.equal(out[0], 'nice 0', line);
  else assert.equal(out[0], 'nice 10', `no cgroup weight here (${line}): the default runsNice applies`);
});
