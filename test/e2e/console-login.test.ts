/**
 * The web console's login in chromium against a real server with authentication on: the login page, a wrong and a
 * right password, a change carried by the session (with its CSRF token), a forged change without the token, logout,
 * brute-force throttling and a password reset through the Identity API. Also TLS: HTTPS with --tls-cert/--tls-key,
 * the Secure cookie, and the warning for a non-loopback listener without TLS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { BIN, launchServer, removeDataDir, startServer, type TestServer } from '../support/server.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { makeIdentityClient } from '../support/oci-sdk-client.js';
import { readOciProfile } from '../../src/sdk/signer.js';

let s: TestServer;
let browser: TestBrowser;

before(async () => {
  s = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await s?.close();
});

test('console: login page, wrong then right password, a change with the CSRF token, logout', async () => {
  assert.ok(s.adminPassword, 'the first start prints the administrator password');
  const ctx = await browser.context();
  try {
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(s.url);
    await page.getByRole('heading', { name: 'Log in to dsjobs' }).waitFor();
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('The user name or password is not correct').waitFor();
    await page.getByLabel('Password').fill(s.adminPassword!);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('user-name').getByText('admin').waitFor();

    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'dsjobs_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.secure, false, 'no Secure flag over plain HTTP');

    // A change through the console's SDK client: the CSRF token goes along, the request is the admin's.
    const created = await page.evaluate(async (compartmentId) => {
      const session = await (await fetch('/20190101/console/session')).json();
      const res = await fetch('/20190101/projects', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ compartmentId, displayName: 'made-in-the-console' }),
      });
      return res.status;
    }, s.compartmentId);
    assert.equal(created, 200);
    // The same change without the token (what a forged cross-site request could send): refused.
    const forged = await page.evaluate(async (compartmentId) => {
      const res = await fetch('/20190101/projects', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ compartmentId }) });
      return { status: res.status, body: await res.json() };
    }, s.compartmentId);
    assert.equal(forged.status, 401);
    assert.equal(forged.body.code, 'NotAuthenticated');
    assert.match(forged.body.message, /x-csrf-token/);
    // Reads need no token.
    const listed = await page.evaluate(async (c) => (await fetch(`/20190101/projects?compartmentId=${encodeURIComponent(c)}`)).status, s.compartmentId);
    assert.equal(listed, 200);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to dsjobs' }).waitFor();
    const after = await page.evaluate(async (c) => (await fetch(`/20190101/projects?compartmentId=${encodeURIComponent(c)}`)).status, s.compartmentId);
    assert.equal(after, 401);

    // `dsjobs admin set-password`: a new password, printed; the old one stops working.
    const reset = spawnSync(process.execPath, [BIN, 'admin', 'set-password'], { env: { ...process.env, DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir }, encoding: 'utf8' });
    assert.equal(reset.status, 0, reset.stderr);
    const fresh = /new console password of admin: (\S+)/.exec(reset.stdout)![1];
    const loginAs = (pw: string) =>
      fetch(`${s.url}/20190101/console/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName: 'admin', password: pw }) });
    assert.equal((await loginAs(s.adminPassword!)).status, 401);
    assert.equal((await loginAs(fresh)).status, 200);
  } finally {
    await ctx.close();
  }
});

test('console: 5 wrong passwords lock the name out for 15 minutes (429), even with the right one; a reset ends sessions', async () => {
  const { client: id, close } = makeIdentityClient(s.url, s.configFile);
  try {
    const tenancy = readOciProfile(s.configFile).tenancy;
    const bob = (await id.createUser({ createUserDetails: { compartmentId: tenancy, name: 'bob', description: 'Bob' } })).user;
    const password = (await id.createOrResetUIPassword({ userId: bob.id })).uIPassword.password!;
    // Bob may list projects (authorized; without a policy his session's list would be a 404).
    const statement = `Allow any-user to inspect data-science-projects in tenancy where request.user.id = '${bob.id}'`;
    await id.createPolicy({ createPolicyDetails: { compartmentId: tenancy, name: 'bob-lists', description: 'x', statements: [statement] } });
    const loginAs = (userName: string, pw: string) =>
      fetch(`${s.url}/20190101/console/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName, password: pw }) });
    const ok = await loginAs('bob', password);
    assert.equal(ok.status, 200);
    const cookie = ok.headers.get('set-cookie')!.split(';')[0];
    const asBob = () => fetch(`${s.url}/20190101/projects?compartmentId=${encodeURIComponent(s.compartmentId)}`, { headers: { cookie } });
    assert.equal((await asBob()).status, 200);
    // A reset (by the administrator) ends Bob's sessions.
    const newPassword = (await id.createOrResetUIPassword({ userId: bob.id })).uIPassword.password!;
    assert.equal((await asBob()).status, 401);
    // 5 failures lock the name out (and the address: the first test's wrong passwords count there, so that lock may
    // come a try or two earlier).
    for (let i = 0; i < 5; i++) {
      const r = await loginAs('bob', `wrong-${i}`);
      if (r.status === 429) break;
      assert.equal(r.status, 401);
    }
    const locked = await loginAs('bob', newPassword);
    assert.equal(locked.status, 429);
    assert.match(((await locked.json()) as { message: string }).message, /Too many failed logins/);
  } finally {
    close();
  }
});

test('TLS: --tls-cert/--tls-key serve HTTPS with a Secure session cookie; a non-loopback listener without TLS is warned about', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const data = path.join(dir, 'data');
  // No volumes or warm sandboxes: these servers only answer HTTP.
  const light = { DSJOBS_LOG_LEVEL: 'warn', DSJOBS_BLOCK_STORAGE: 'directory', DSJOBS_WARM_SANDBOXES: '0' };
  const srv = await launchServer([BIN, 'server', '--port', '0', '--data-dir', data, '--tls-cert', cert, '--tls-key', key], { ...light, DSJOBS_AUTHENTICATION: 'on' });
  const plain = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-open-'));
  try {
    assert.match(srv.url, /^https:\/\//);
    const request = (method: string, p: string, body?: string) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = https.request(`${srv.url}${p}`, { method, ca: readFileSync(cert), headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const info = await request('GET', '/20190101/serverInfo');
    assert.equal(info.status, 200);
    assert.equal(JSON.parse(info.body).tls, true);
    const password = /password (\S+)/.exec(srv.output())![1];
    const login = await request('POST', '/20190101/console/login', JSON.stringify({ userName: 'admin', password }));
    assert.equal(login.status, 200, login.body);
    assert.match(String(login.headers['set-cookie']), /; Secure/);

    // 0.0.0.0 without TLS: it starts, and says what that means.
    const open = await launchServer([BIN, 'server', '--host', '0.0.0.0', '--port', '0', '--data-dir', plain], light);
    try {
      // Printed just after the URL: wait for it.
      // Authentication is on (the harness's default), so TLS is what is missing, and the warning names only that.
      const warning =
        /WARNING: listening on every network interface, beyond this machine, without TLS: anyone on the network path can read requests and answers \(signatures stop tampering, not eavesdropping\)\. Give --tls-cert and --tls-key, or listen on 127\.0\.0\.1 \(config host\)\./;
      for (let i = 0; i < 200 && !warning.test(open.output()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(open.output(), warning);
      assert.doesNotMatch(open.output(), /authentication off/);
    } finally {
      open.proc.kill('SIGTERM');
      await new Promise((r) => open.proc.once('exit', r));
    }
  } finally {
    srv.proc.kill('SIGTERM');
    await new Promise((r) => srv.proc.once('exit', r));
    removeDataDir(data);
    rmSync(dir, { recursive: true, force: true });
    removeDataDir(plain);
  }
});
