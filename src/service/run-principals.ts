import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Principal } from '../domain/principal.js';
import { RUN_RESOURCE_TYPE } from '../domain/policy/evaluate.js';
import { RpstError, signRpst, verifyRpst } from '../domain/rpst.js';
import type { PrivateFile } from '../executors/executor.js';
import type { Clock } from './common.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** OCI's resource principal provider version whose contract dsjobs implements (RPST and key as values or file paths). */
export const RESOURCE_PRINCIPAL_VERSION = '2.2';

/**
 * Added to a token's lifetime beyond the run's maximum runtime and grace period: a run re-attached after a restart, or
 * a clock a little off, never sees its token expire while the run may still be going. What ends the token is the
 * run's end (revoke), not this.
 */
const EXPIRY_MARGIN_MS = 5 * 60_000;

/** What a run is given at its start: files only it can read (the env var names each file's path) and plain variables. */
export interface IssuedPrincipal {
  files: PrivateFile[];
  env: Record<string, string>;
}

interface KeyPairPem {
  privateKeyPem: string;
  publicKey: KeyObject;
}

interface Verified {
  runId: string;
  compartmentId: string;
  key: KeyObject;
  expMs: number;
}

/**
 * Run principals (OCI's resource principals, version 2.2): each run gets, at its start, a key pair of its own (never
 * reused) and a session token (RPST) signed by the server's token key, naming the run, its compartment and the
 * tenancy, with the public key as `jwk`. Requests signed `keyId="ST$<token>"` with that key authenticate as
 * `{kind: 'run', runId, compartmentId}`, which policies match through dynamic groups.
 *
 * A token is good only while its run is live: the lifecycle (RunsService) calls activate() when it starts or
 * re-attaches a run and revoke() the moment it is stopped or ends, so the check on every request is a set lookup and
 * an ended run's token is refused at once, long before it expires.
 *
 * RSA 2048 key generation costs ~50-200 ms of CPU here, far more than starting a short run: a run gets a principal
 * only when some policy statement could grant it anything (a dynamic group matching it is named by a statement, or
 * any-user is) when it starts; otherwise every request it signed would be denied anyway. Once principals are in
 * use, a few pairs are made ahead, off the event loop (the thread pool), so a run's start rarely waits for one.
 */
export class RunPrincipals {
  private readonly live = new Set<string>();
  /** Tokens already verified, of live runs only (so at most one per live run): a request then costs one RSA verify. */
  private readonly verified = new Map<string, Verified>();
  private readonly ready: KeyPairPem[] = [];
  private filling = false;
  private closed = false;
  private readonly publicTokenKey: KeyObject;
  private endpointReady!: (url: string) => void;
  private readonly endpoint: Promise<string>;

  constructor(
    private readonly tokenKey: KeyObject,
    private readonly identity: { tenancyId: string; region: string },
    private readonly clock: Clock,
    private readonly opts: {
      poolSize: number;
      /** Whether policies could grant this run principal anything (the authorizer's namesPrincipal). */
      wanted: (principal: Principal) => Promise<boolean>;
      log?: { error(obj: unknown, msg: string): void };
    },
  ) {
    this.publicTokenKey = createPublicKey(tokenKey);
    this.endpoint = new Promise((resolve) => (this.endpointReady = resolve));
  }

  /** The API's URL as runs reach it (known once the server listens; a run started before then waits for it). */
  setEndpoint(url: string): void {
    this.endpointReady(url);
  }

  /** Nothing to make ahead until a run needs a principal: most servers' runs never do (see the class's note). */
  start(): void {}

  close(): void {
    this.closed = true;
  }

  private async fill(): Promise<void> {
    if (this.filling) return;
    this.filling = true;
    try {
      while (!this.closed && this.ready.length < this.opts.poolSize) this.ready.push(await newKeyPair());
    } catch (e) {
      this.opts.log?.error({ err: e }, 'making key pairs for run principals failed; runs make their own at start');
    } finally {
      this.filling = false;
    }
  }

  private async takeKeyPair(): Promise<KeyPairPem> {
    const pair = this.ready.shift() ?? (await newKeyPair());
    void this.fill();
    return pair;
  }

  /**
   * The identity of a run about to start (null: no policy statement could grant it anything): a fresh key pair and a token that expires after the run's maximum runtime
   * (plus its grace period and a margin), so the SDK, which reads the token again only once it has expired, never
   * needs another. The run is live from here on (its process may call the API before the run is IN_PROGRESS).
   */
  async issue(run: { id: string; compartmentId: string; maximumRuntimeInMinutes: number }, gracePeriodMs: number): Promise<IssuedPrincipal | null> {
    if (!(await this.opts.wanted({ kind: 'run', runId: run.id, compartmentId: run.compartmentId }))) return null;
    const [pair, endpoint] = await Promise.all([this.takeKeyPair(), this.endpoint]);
    const now = this.clock.now();
    const exp = now + run.maximumRuntimeInMinutes * 60_000 + gracePeriodMs + EXPIRY_MARGIN_MS;
    const token = signRpst(
      {
        sub: run.id,
        res_id: run.id,
        res_type: RUN_RESOURCE_TYPE,
        res_compartment: run.compartmentId,
        res_tenant: this.identity.tenancyId,
        jwk: pair.publicKey.export({ format: 'jwk' }),
        iat: Math.floor(now / 1000),
        exp: Math.floor(exp / 1000),
      },
      this.tokenKey,
    );
    this.activate(run.id);
    return {
      files: [
        { env: 'OCI_RESOURCE_PRINCIPAL_RPST', name: 'rpst', content: token },
        { env: 'OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM', name: 'private.pem', content: pair.privateKeyPem },
      ],
      env: {
        OCI_RESOURCE_PRINCIPAL_VERSION: RESOURCE_PRINCIPAL_VERSION,
        OCI_RESOURCE_PRINCIPAL_REGION: this.identity.region,
        DSJOBS_ENDPOINT: endpoint,
      },
    };
  }

  /** The run's principal is good (its start, or a re-attach after a restart of a run that is not being stopped). */
  activate(runId: string): void {
    this.live.add(runId);
  }

  /** The run is being stopped or has ended: its token stops working now. */
  revoke(runId: string): void {
    if (!this.live.delete(runId)) return;
    for (const [token, v] of this.verified) if (v.runId === runId) this.verified.delete(token);
  }

  isLive(runId: string): boolean {
    return this.live.has(runId);
  }

  /**
   * A request's `ST$` token: signed by this server's token key, not expired, of a live run. Returns the principal
   * and the key the request's signature must verify with; throws RpstError saying what is wrong.
   */
  authenticate(token: string): { principal: Principal; key: KeyObject } {
    const now = this.clock.now();
    let v = this.verified.get(token);
    if (!v) {
      const { claims, publicKey } = verifyRpst(token, this.publicTokenKey, now);
      if (claims.res_tenant !== this.identity.tenancyId) throw new RpstError('the session token is of another tenancy');
      v = { runId: claims.res_id, compartmentId: claims.res_compartment, key: publicKey, expMs: claims.exp * 1000 };
      if (this.live.has(v.runId)) this.verified.set(token, v);
    }
    if (v.expMs <= now) throw new RpstError('the session token has expired');
    if (!this.live.has(v.runId)) throw new RpstError(`job run ${v.runId} is not running: its resource principal ended with it`);
    return { principal: { kind: 'run', runId: v.runId, compartmentId: v.compartmentId }, key: v.key };
  }
}

async function newKeyPair(): Promise<KeyPairPem> {
  // 2048 bits: what OCI's SDKs make for their own session keys.
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKey: createPublicKey(publicKey) };
}
