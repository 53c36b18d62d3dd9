/**
 * OCI parity (issue 20) through the UNMODIFIED official `oci-datascience` SDK against a real dsjobs server: numbers
 * OCI types as integers, fast-launch configs, the artifact's content-disposition, retries and OCI's error codes,
 * work requests.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as ds from 'oci-datascience';
import type { DataScienceClient } from 'oci-datascience';
import { startServer, type TestServer } from '../support/server.js';
import { makeOciClient, isOciError } from '../support/oci-sdk-client.js';

let s: TestServer;
let client: DataScienceClient;
let closeClient: () => void;

before(async () => {
  s = await startServer();
  ({ client, close: closeClient } = makeOciClient(s.url, s.configFile));
});
after(async () => {
  closeClient?.();
  await s?.close();
});

/** Runs `fn` expecting an SDK error; the SDK's console.warn lines for failed calls are swallowed meanwhile. */
async function expectOciError(fn: () => Promise<unknown>) {
  const warn = console.warn;
  console.warn = () => {};
  try {
    await fn();
  } catch (err) {
    assert.ok(isOciError(err), `expected an OciError, got ${String(err)} ${JSON.stringify(err)}`);
    return err;
  } finally {
    console.warn = warn;
  }
  assert.fail('expected the SDK call to fail');
}

test('ListJobShapes: every coreCount and memoryInGBs is a whole number (the Go SDK types them as integers)', async () => {
  const res = await client.listJobShapes({ compartmentId: s.compartmentId });
  const light = res.items.find((x) => x.name === 'Local.Light');
  assert.ok(light, res.items.map((x) => x.name).join(','));
  for (const shape of res.items) {
    assert.ok(Number.isInteger(shape.coreCount), `${shape.name} coreCount ${shape.coreCount}`);
    assert.ok(Number.isInteger(shape.memoryInGBs), `${shape.name} memoryInGBs ${shape.memoryInGBs}`);
  }
});

test('ListFastLaunchJobConfigs: one config per shape this server runs, whole numbers, pages as OCI pages', async () => {
  const shapes = (await client.listJobShapes({ compartmentId: s.compartmentId })).items;
  const res = await client.listFastLaunchJobConfigs({ compartmentId: s.compartmentId });
  assert.deepEqual(res.items.map((c) => c.shapeName), shapes.map((x) => x.name));
  for (const c of res.items) {
    const shape = shapes.find((x) => x.name === c.shapeName)!;
    assert.equal(c.coreCount, shape.coreCount);
    assert.equal(c.memoryInGBs, shape.memoryInGBs);
    assert.equal(c.shapeSeries, shape.shapeSeries);
    assert.equal(c.managedEgressSupport, ds.models.FastLaunchJobConfigSummary.ManagedEgressSupport.Supported);
    assert.ok(Number.isInteger(c.coreCount) && Number.isInteger(c.memoryInGBs), c.name);
  }
  // The SDK's paginator follows opc-next-page.
  const paged: string[] = [];
  for await (const c of client.listFastLaunchJobConfigsRecordIterator({ compartmentId: s.compartmentId, limit: 2 })) paged.push(c.shapeName);
  assert.deepEqual(paged, shapes.map((x) => x.name));
});
