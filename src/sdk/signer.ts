/**
 * OCI request signing for Node (node:crypto, no dependencies): the HTTP signature the official OCI SDKs send, made
 * from an OCI config file profile (user, fingerprint, key_file, tenancy, pass_phrase). Kept out of client.ts so the
 * web console can bundle the client without Node's modules.
 */
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RequestSigner, RequestToSign } from './client.js';

export interface OciProfile {
  user: string;
  fingerprint: string;
  tenancy: string;
  region?: string;
  keyFile: string;
  passPhrase?: string;
  /** Every key of the profile, DEFAULT's included. */
  values: Record<string, string>;
}

export class OciConfigError extends Error {
  override name = 'OciConfigError';
}

const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);

/** Reads one profile of an OCI config file; keys missing from it are taken from [DEFAULT], as the OCI SDKs do. */
export function readOciProfile(file: string, profile = 'DEFAULT'): OciProfile {
  let text: string;
  try {
    text = readFileSync(expandHome(file), 'utf8');
  } catch (e) {
    throw new OciConfigError(`OCI config file ${file} cannot be read: ${(e as Error).message}`);
  }
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = sections.get(section[1]) ?? {};
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || !current) throw new OciConfigError(`OCI config file ${file}: line "${line}" is not key=value inside a [profile]`);
    current[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  if (!sections.has(profile)) throw new OciConfigError(`OCI config file ${file} has no profile [${profile}]`);
  const values = { ...(sections.get('DEFAULT') ?? {}), ...sections.get(profile) };
  for (const k of ['user', 'fingerprint', 'key_file', 'tenancy']) {
    if (!values[k]) throw new OciConfigError(`OCI config file ${file}, profile [${profile}]: ${k} is missing`);
  }
  return {
    user: values.user,
    fingerprint: values.fingerprint,
    tenancy: values.tenancy,
    region: values.region,
    keyFile: expandHome(values.key_file),
    passPhrase: values.pass_phrase,
    values,
  };
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * A signer for `DsJobsClient` (and any HTTP client): the headers to add to a request so that dsjobs, or OCI,
 * accepts it. As the OCI SDKs do: x-date, (request-target) and host always; for POST/PUT/PATCH also content-type,
 * content-length and x-content-sha256, except for a streamed (binary) body (`excludeBody`).
 */
export function apiKeySigner(creds: { tenancy: string; user: string; fingerprint: string; privateKey: KeyObject }): RequestSigner {
  return keyIdSigner(() => ({ keyId: `${creds.tenancy}/${creds.user}/${creds.fingerprint}`, privateKey: creds.privateKey }));
}

/** Signs with whatever key `current` names at the time of each request (a session token's file may be replaced). */
function keyIdSigner(current: () => { keyId: string; privateKey: KeyObject }): RequestSigner {
  return (r: RequestToSign) => {
    const { keyId, privateKey } = current();
    const url = new URL(r.url);
    const method = r.method.toUpperCase();
    const add: Record<string, string> = { 'x-date': new Date().toUTCString() };
    const names = ['x-date', '(request-target)', 'host'];
    const values: Record<string, string> = {
      'x-date': add['x-date'],
      '(request-target)': `${method.toLowerCase()} ${url.pathname}${url.search}`,
      host: url.host,
    };
    if (BODY_METHODS.has(method) && !r.excludeBody) {
      const body = r.body ?? '';
      const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const lower = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
      add['content-type'] = lower['content-type'] ?? 'application/json';
      add['content-length'] = String(bytes.length);
      add['x-content-sha256'] = createHash('sha256').update(bytes).digest('base64');
      for (const h of ['content-type', 'content-length', 'x-content-sha256']) {
        names.push(h);
        values[h] = add[h];
      }
    }
    const signingString = names.map((h) => `${h}: ${values[h]}`).join('\n');
    const signature = sign('sha256', Buffer.from(signingString), privateKey).toString('base64');
    add.authorization = `Signature version="1",keyId="${keyId}",algorithm="rsa-sha256",headers="${names.join(' ')}",signature="${signature}"`;
    return add;
  };
}

/** A signer from an OCI config file profile: what the CLI, the tests and the benchmarks use. */
export function configFileSigner(file: string, profile = 'DEFAULT'): RequestSigner {
  const p = readOciProfile(file, profile);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: readFileSync(p.keyFile, 'utf8'), passphrase: p.passPhrase });
  } catch (e) {
    throw new OciConfigError(`key_file ${p.keyFile} (OCI config ${file}, profile [${profile}]) cannot be used: ${(e as Error).message}`);
  }
  return apiKeySigner({ tenancy: p.tenancy, user: p.user, fingerprint: p.fingerprint, privateKey });
}

/**
 * A signer for a job run's own identity (its resource principal, docs/identity.md#run-principals), from the
 * variables dsjobs gives every run: `OCI_RESOURCE_PRINCIPAL_RPST` and `OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM`, each a
 * file's absolute path (read at each request, so a replaced file is used at once) or the value itself, as the OCI
 * SDKs read them. Requests are signed `keyId="ST$<token>"`. Use with `endpoint: process.env.DSJOBS_ENDPOINT`.
 */
export function resourcePrincipalSigner(env: Record<string, string | undefined> = process.env): RequestSigner {
  const rpst = env.OCI_RESOURCE_PRINCIPAL_RPST;
  const pem = env.OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM;
  if (env.OCI_RESOURCE_PRINCIPAL_VERSION !== '2.2') {
    throw new OciConfigError(`OCI_RESOURCE_PRINCIPAL_VERSION must be 2.2 (it is ${env.OCI_RESOURCE_PRINCIPAL_VERSION ?? 'not set'}): is this a job run?`);
  }
  if (!rpst || !pem) throw new OciConfigError('OCI_RESOURCE_PRINCIPAL_RPST and OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM must both be set: is this a job run?');
  const read = (v: string) => (path.isAbsolute(v) ? readFileSync(v, 'utf8') : v).trim();
  let cached: { token: string; pem: string; privateKey: KeyObject } | null = null;
  return keyIdSigner(() => {
    const token = read(rpst);
    const keyPem = read(pem);
    if (!cached || cached.token !== token || cached.pem !== keyPem) cached = { token, pem: keyPem, privateKey: createPrivateKey(keyPem) };
    return { keyId: `ST$${token}`, privateKey: cached.privateKey };
  });
}
