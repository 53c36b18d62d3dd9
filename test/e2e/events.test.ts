import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN, createJob, startRun, startServer, waitForRun, type TestServer } from '../support/server.js';
import type { CloudEvent } from '../../src/sdk/client.js';

const run = promisify(execFile);
const OCI = 'com.oraclecloud.datascience';

async function allEvents(s: TestServer, q: Record<string, string> = {}): Promise<CloudEvent[]> {
  const out: CloudEvent[] = [];
  for await (const e of s.api.all((page) => s.api.listEvents({ ...q, page, limit: 50 }))) out.push(e);
  return out;
}

describe('events', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s?.close();
  });

  test('every lifecycle change of projects, jobs and runs is a CloudEvent carrying the resource as the API returns it', async () => {
    const project = await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'ev' });
    await s.api.updateProject(project.id, { description: 'changed' });
    const job = await createJob(s, 'ok.sh', 'echo hi\n', { projectId: project.id });
    await s.api.updateJob(job.id, { displayName: 'renamed' });
    const ok = await startRun(s, job);
    const okDone = await waitForRun(s.api, ok.id);
    const bad = await startRun(s, job, { args: '', env: { X: '1' } });
    await waitForRun(s.api, bad.id);
    const failing = await createJob(s, 'fail.sh', 'exit 3\n', { projectId: project.id });
    const f = await startRun(s, failing);
    await waitForRun(s.api, f.id);
    const sleeper = await createJob(s, 'sleep.sh', 'sleep 30\n', { projectId: project.id });
    const c = await startRun(s, sleeper);
    await waitForRun(s.api, c.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    await s.api.cancelJobRun(c.id);
    await waitForRun(s.api, c.id);
    const t = await startRun(s, sleeper, { maxRuntimeMinutes: 1 / 60 });
    await waitForRun(s.api, t.id);
    await s.api.updateJobRun(ok.id, { displayName: 'renamed-run' });
    await s.api.deleteJobRun(ok.id);
    await s.api.deleteJob(failing.id, { deleteRelatedJobRuns: true });

    const events = await allEvents(s);
    for (const e of events) {
      assert.equal(e.specversion, '1.0');
      assert.equal(e.datacontenttype, 'application/json');
      assert.match(e.source, /^\/dsjobs\/local\/datascience$/);
      assert.ok(e.id && e.time && e.subject && e.compartmentid);
      assert.equal(e.subject, e.data.id, 'subject is the resource');
    }
    const seqs = events.map((e) => Number(e.sequence));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'oldest first');
    const typesOf = (id: string) => events.filter((e) => e.subject === id).map((e) => e.type.replace(`${OCI}.`, ''));
    assert.deepEqual(typesOf(project.id), ['createproject', 'updateproject']);
    assert.deepEqual(typesOf(job.id), ['createjob', 'io.dsjobs.createjobartifact', 'updatejob']);
    assert.deepEqual(typesOf(ok.id), ['createjobrun.begin', 'createjobrun.end', 'succeededjobrun', 'updatejobrun', 'deletejobrun']);
    assert.deepEqual(typesOf(f.id), ['createjobrun.begin', 'createjobrun.end', 'failedjobrun', 'deletejobrun']);
    assert.deepEqual(typesOf(failing.id), ['createjob', 'io.dsjobs.createjobartifact', 'deletejob.begin', 'deletejob.end']);
    assert.deepEqual(typesOf(c.id), ['createjobrun.begin', 'createjobrun.end', 'canceljobrun.begin', 'canceljobrun.end']);
    assert.deepEqual(typesOf(t.id), ['createjobrun.begin', 'createjobrun.end', 'canceljobrun.begin', 'timeoutjobrun']);

    // The data is the resource as GET returned it at that moment.
    const succeeded = events.find((e) => e.subject === ok.id && e.type === `${OCI}.succeededjobrun`)!;
    assert.deepEqual(succeeded.data, JSON.parse(JSON.stringify(okDone)));
    assert.equal(succeeded.jobid, job.id);
    assert.equal(succeeded.projectid, project.id);
    const projUpdated = events.find((e) => e.type === `${OCI}.updateproject`)!;
    assert.equal(projUpdated.data.description, 'changed');
    const timedOut = events.find((e) => e.type === `${OCI}.timeoutjobrun`)!;
    assert.equal(timedOut.data.lifecycleState, 'FAILED');
    assert.match(String(timedOut.data.lifecycleDetails), /maximum runtime/);

    // Filters: type (several), job, resource; paging with opc-next-page.
    const terminal = await allEvents(s, { type: `${OCI}.succeededjobrun,${OCI}.failedjobrun`, jobId: job.id });
    assert.deepEqual(terminal.map((e) => e.subject), [ok.id, bad.id]);
    assert.deepEqual((await allEvents(s, { resourceId: c.id })).length, 4);
    const p1 = await s.api.listEvents({ limit: 3 });
    assert.equal(p1.items.length, 3);
    assert.ok(p1.nextPage);
    const p2 = await s.api.listEvents({ limit: 3, page: p1.nextPage! });
    assert.equal(Number(p2.items[0].sequence), Number(p1.items[2].sequence) + 1);
    const afterFirst = await s.api.listEvents({ after: events[0].id, limit: 1 });
    assert.equal(afterFirst.items[0].id, events[1].id);

    // Clear errors.
    await assert.rejects(s.api.listEvents({ type: 'com.example.nope' }), (e: any) => e.status === 400 && /query type: 'com.example.nope' is not an event type/.test(e.message));
    await assert.rejects(s.api.listEvents({ after: 'no-such-event' }), (e: any) => e.status === 400 && /query after: event no-such-event was not found/.test(e.message));
    await assert.rejects(s.api.listEvents({ page: 'x' }), (e: any) => e.status === 400 && /query page/.test(e.message));
  });

  test('follow streams new events as they commit and resumes from an event id', async () => {
    const abort = new AbortController();
    const got: CloudEvent[] = [];
    const it = s.api.followEvents({ type: `${OCI}.createproject` }, abort.signal);
    const reading = (async () => {
      try {
        for await (const e of it) {
          got.push(e);
          if (got.length === 2) abort.abort();
        }
      } catch (e) {
        if (!abort.signal.aborted) throw e;
      }
    })();
    // Without `after`, only events from the moment the stream opened are sent: projects are created until two have
    // arrived (the first ones may predate the stream), and those two must be consecutive.
    const made: string[] = [];
    const start = Date.now();
    while (got.length < 2 && Date.now() - start < 15_000) {
      made.push((await s.api.createProject({ compartmentId: s.compartmentId, displayName: `f${made.length}` })).id);
      await new Promise((r) => setTimeout(r, 50));
    }
    await reading;
    assert.equal(got.length, 2);
    assert.ok(made.includes(got[0].subject) && made.includes(got[1].subject), 'only projects made after following began');
    assert.equal(made.indexOf(got[1].subject), made.indexOf(got[0].subject) + 1, 'in order, none skipped');

    // Resume after the first one: the second comes again, then the rest.
    const resumed: CloudEvent[] = [];
    const abort2 = new AbortController();
    try {
      for await (const e of s.api.followEvents({ type: `${OCI}.createproject`, after: got[0].id }, abort2.signal)) {
        resumed.push(e);
        if (resumed.length === made.length - made.indexOf(got[0].subject) - 1) abort2.abort();
      }
    } catch (e) {
      if (!abort2.signal.aborted) throw e;
    }
    assert.equal(resumed[0].id, got[1].id);
    assert.deepEqual(resumed.map((e) => e.subject), made.slice(made.indexOf(got[0].subject) + 1));
  });

  test('a follow answers its head before any event, so a client knows where the stream starts and misses nothing after', async () => {
    const abort = new AbortController();
    const noHead = setTimeout(() => abort.abort(new Error('no response head within 10 s of a follow with no events')), 10_000);
    try {
      // Nothing matches this filter yet: the head still arrives (fetch resolves), with no bytes of body.
      const p0 = await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'head-first' });
      const res = await s.fetch(`${s.url}/20190101/events?follow=true&resourceId=${encodeURIComponent(p0.id)}&type=${OCI}.updateproject`, { signal: abort.signal });
      clearTimeout(noHead);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
      // Made after the head came: it is on the stream, and it is the first thing on it.
      await s.api.updateProject(p0.id, { description: 'after the head' });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const first = JSON.parse(text.slice(0, text.indexOf('\n'))) as CloudEvent;
      assert.equal(first.subject, p0.id);
      assert.equal((first.data as { description: string }).description, 'after the head');
    } finally {
      clearTimeout(noHead);
      abort.abort();
    }
  });

  test('dsjobs events lists and follows (CLI)', async () => {
    const p = await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'cli-ev' });
    // The CLI signs with the config the server wrote in its data dir.
    const env = { ...process.env, DSJOBS_DATA_DIR: s.dataDir };
    const { stdout } = await run(process.execPath, [BIN, '--endpoint', s.url, '--json', 'events', '--resource', p.id], { env });
    const list = JSON.parse(stdout);
    assert.equal(list.length, 1);
    assert.equal(list[0].type, `${OCI}.createproject`);
    const human = await run(process.execPath, [BIN, '--endpoint', s.url, 'events', '--resource', p.id], { env });
    assert.match(human.stdout, new RegExp(`createproject\\s+${p.id.replace(/\./g, '\\.')}\\s+ACTIVE`));
    // -f: a follower started after the update sees only what comes next.
    const child = execFile(process.execPath, [BIN, '--endpoint', s.url, '--json', 'events', '-f', '--resource', p.id], { env });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const start = Date.now();
    while (!out.includes('updateproject') && Date.now() - start < 15_000) {
      await s.api.updateProject(p.id, { description: `d${Date.now()}` });
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    const first = JSON.parse(out.split('\n')[0]);
    assert.equal(first.type, `${OCI}.updateproject`);
    assert.equal(first.subject, p.id);
  });
});

describe('events and server kills', () => {
  test('after SIGKILL and restart, every run has exactly the events of what happened to it', async () => {
    let s = await startServer({ env: { DSJOBS_CAPACITY_CPUS: '4', DSJOBS_CAPACITY_MEMORY_IN_GBS: '64' } });
    try {
      const job = await createJob(s, 'short.sh', 'sleep 0.$((RANDOM % 5))\nexit $((RANDOM % 2))\n');
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push((await startRun(s, job)).id);
      // Kill while runs are starting and ending.
      await waitForRun(s.api, ids[2], (r) => r.lifecycleState !== 'ACCEPTED');
      s = await s.restart();
      for (const id of ids) await waitForRun(s.api, id, undefined, 60_000);
      const events = await allEvents(s, { jobId: job.id });
      for (const id of ids) {
        const final = await s.api.getJobRun(id);
        const types = events.filter((e) => e.subject === id).map((e) => e.type.replace(`${OCI}.`, ''));
        const expectedEnd = final.lifecycleState === 'SUCCEEDED' ? 'succeededjobrun' : 'failedjobrun';
        assert.equal(types[0], 'createjobrun.begin', `${id}: ${types}`);
        assert.equal(types.filter((t) => t === 'createjobrun.begin').length, 1, `${id}: ${types}`);
        assert.ok(types.filter((t) => t === 'createjobrun.end').length <= 1, `${id}: ${types}`);
        assert.deepEqual(types.filter((t) => /succeeded|failed/.test(t)), [expectedEnd], `${id} ended ${final.lifecycleState}: ${types}`);
        assert.equal(types[types.length - 1], expectedEnd);
        const last = events.filter((e) => e.subject === id).pop()!;
        assert.equal(last.data.lifecycleState, final.lifecycleState);
      }
    } finally {
      await s.close();
    }
  });
});
