/**
 * Container images pulled from a registry at the run's start, through the UNMODIFIED official `oci-datascience` SDK,
 * on a real Docker Engine and a real registry (Debian's docker-registry on 127.0.0.1 with htpasswd authentication,
 * scripts/docker-registry.sh): the server's credentials for the registry are used (the job never carries them, and
 * they appear neither in the API nor in the server's log); wrong or missing credentials, an image the registry does
 * not have and a digest that does not match fail the run, naming the image and why; the right digest runs, also
 * where the tag on the host is stale (then the digest is pulled).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ds from 'oci-datascience';
import { readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import { makeOciClient } from '../support/oci-sdk-client.js';
import { docker, dockerReady, testRegistry, TOOLS_IMAGE, type TestRegistry } from '../support/docker.js';

const skip = dockerReady();

/** Removes the image from the engine (the registry keeps it), so a run must pull it. */
function forget(image: string): void {
  try {
    docker('rmi', image);
  } catch {
    /* not on the engine */
  }
}

describe('container images from a registry (official SDK, Docker Engine, docker-registry)', { skip: skip ?? false }, () => {
  let reg: TestRegistry;
  let port: string;
  let dir: string;
  /** With the registry's credentials for 127.0.0.1:PORT, and wrong ones for localhost:PORT (the same registry). */
  let s: TestServer;
  /** With no credentials at all. */
  let bare: TestServer;

  before(async () => {
    reg = testRegistry();
    port = reg.address.split(':')[1]!;
    dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-registry-'));
    const config = path.join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        containers: {
          registries: [
            { registry: reg.address, username: reg.username, password: reg.password },
            { registry: `localhost:${port}`, username: reg.username, password: `${reg.password}-wrong` },
          ],
        },
      }),
    );
    // Both at once; info: the server's log would show what a pull logs.
    [s, bare] = await Promise.all([startServer({ config, env: { DSJOBS_LOG_LEVEL: 'info' } }), startServer()]);
  });
  after(async () => {
    await Promise.all([s?.close(), bare?.close()]);
    forget(reg?.image ?? '');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a container job of `image` on `server` to its end; the ended run. */
  async function runImage(server: TestServer, env: Omit<ds.models.OcirContainerJobEnvironmentConfigurationDetails, 'jobEnvironmentType'>) {
    const o = makeOciClient(server.url, server.configFile);
    try {
      const projectId = (await o.client.createProject({ createProjectDetails: { compartmentId: server.compartmentId } })).project.id;
      const job = (
        await o.client.createJob({
          createJobDetails: {
            projectId,
            compartmentId: server.compartmentId,
            jobConfigurationDetails: { jobType: 'DEFAULT' } as ds.models.DefaultJobConfigurationDetails,
            jobInfrastructureConfigurationDetails: {
              jobInfrastructureType: 'ME_STANDALONE',
              shapeName: 'Local.Light',
              blockStorageSizeInGBs: 50,
            } as ds.models.StandaloneJobInfrastructureConfigurationDetails,
            jobEnvironmentConfigurationDetails: { jobEnvironmentType: 'OCIR_CONTAINER', ...env } as ds.models.OcirContainerJobEnvironmentConfigurationDetails,
          },
        })
      ).job;
      const run = (await o.client.createJobRun({ createJobRunDetails: { projectId, compartmentId: server.compartmentId, jobId: job.id } })).jobRun;
      const done = await waitForRun(server.api, run.id, undefined, 120_000);
      // What the API says of the job and run never holds the credentials.
      for (const u of [`/20190101/jobs/${job.id}`, `/20190101/jobRuns/${run.id}`]) {
        const body = await (await server.fetch(`${server.url}${u}`)).text();
        assert.ok(!body.includes(reg.password), `${u} shows the registry password`);
      }
      return done;
    } finally {
      o.close();
    }
  }

  test("an image only the registry has is pulled at the run's start with the server's credentials; its digest runs (also over a stale tag), another fails", async () => {
    forget(reg.image);
    const ok = await runImage(s, { image: reg.image, imageDigest: reg.digest, cmd: ['echo', 'pulled and ran'] });
    assert.equal(ok.lifecycleState, 'SUCCEEDED', ok.lifecycleDetails ?? '');
    assert.deepEqual(
      (await readLogs(s, ok.id)).map((l) => l.message),
      ['pulled and ran'],
    );
    const repoDigests = docker('image', 'inspect', '--format', '{{json .RepoDigests}}', reg.image);
    assert.ok(repoDigests.includes(`${reg.address}/dsjobs-test/pulled@${reg.digest}`), repoDigests);

    // A stale tag on this host (it names another image here): the pinned digest is pulled and runs, not the tag's image.
    forget(reg.image);
    docker('tag', TOOLS_IMAGE, reg.image);
    const pinned = await runImage(s, { image: reg.image, imageDigest: reg.digest, cmd: ['sh', '-c', 'if [ -e /usr/bin/python3 ]; then echo tools; else echo busybox; fi'] });
    assert.equal(pinned.lifecycleState, 'SUCCEEDED', pinned.lifecycleDetails ?? '');
    assert.deepEqual(
      (await readLogs(s, pinned.id)).map((l) => l.message),
      ['busybox'],
    );

    const wrong = `sha256:${'1'.repeat(64)}`;
    // Over the stale tag: the wrong digest is looked for in the registry too.
    const stale = await runImage(s, { image: reg.image, imageDigest: wrong, cmd: ['true'] });
    assert.equal(stale.lifecycleState, 'FAILED');
    assert.match(
      stale.lifecycleDetails ?? '',
      new RegExp(`image ${reg.image} does not have the digest ${wrong} the job asks for \\(it has [^)]+\\), and pulling ${reg.address}/dsjobs-test/pulled@${wrong} failed: manifest for \\S+ not found`),
    );
    // Freshly pulled: what the registry has is not it.
    forget(reg.image);
    const bad = await runImage(s, { image: reg.image, imageDigest: wrong, cmd: ['true'] });
    assert.equal(bad.lifecycleState, 'FAILED');
    assert.match(bad.lifecycleDetails ?? '', new RegExp(`image ${reg.image} does not have the digest ${wrong} the job asks for \\(it has .*${reg.digest}\\)$`));
  });

  test('wrong or missing credentials fail the run, naming the image and the reason', async () => {
    const viaLocalhost = `localhost:${port}/dsjobs-test/pulled:1`;
    forget(viaLocalhost);
    const wrong = await runImage(s, { image: viaLocalhost, cmd: ['true'] });
    assert.equal(wrong.lifecycleState, 'FAILED');
    assert.match(wrong.lifecycleDetails ?? '', new RegExp(`image ${viaLocalhost} is not on this host and could not be pulled: unauthorized: authentication required$`), wrong.lifecycleDetails ?? '');

    forget(reg.image);
    const none = await runImage(bare, { image: reg.image, cmd: ['true'] });
    assert.equal(none.lifecycleState, 'FAILED');
    assert.match(none.lifecycleDetails ?? '', new RegExp(`image ${reg.image} is not on this host and could not be pulled: .*no basic auth credentials$`), none.lifecycleDetails ?? '');
    for (const d of [wrong.lifecycleDetails, none.lifecycleDetails]) assert.ok(!d?.includes(reg.password));
  });

  test('an image the registry does not have fails the run, saying so', async () => {
    const absent = `${reg.address}/dsjobs-test/absent:1`;
    const r = await runImage(s, { image: absent, cmd: ['true'] });
    assert.equal(r.lifecycleState, 'FAILED');
    assert.match(r.lifecycleDetails ?? '', new RegExp(`image ${absent} is not on this host and could not be pulled: manifest for ${absent} not found`), r.lifecycleDetails ?? '');
  });

  test("the registry's password is not in the server's log", () => {
    assert.ok(s.output().length > 0);
    assert.ok(!s.output().includes(reg.password));
  });
});
