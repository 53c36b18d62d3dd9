import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import type { ConsoleSessions } from '../../service/console-sessions.js';
import { DsError } from '../../domain/errors.js';
import { SESSION_COOKIE, sessionToken } from '../authentication.js';

const tags = ['console'];
const SessionInfo = Type.Object({ userId: Type.String(), userName: Type.String(), csrfToken: Type.String() });

/**
 * The web console's login (a dsjobs addition): POST a user name and password, get a session cookie (HttpOnly,
 * SameSite=Strict, Secure over TLS) and a CSRF token the console sends in x-csrf-token on every change.
 */
export async function consoleSessionRoutes(app: App, o: { sessions: ConsoleSessions; tls: boolean }): Promise<void> {
  const cookie = (value: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${o.tls ? '; Secure' : ''}`;
  app.post(
    '/console/login',
    {
      schema: {
        tags,
        operationId: 'ConsoleLogin',
        body: Type.Object({ userName: Type.String({ minLength: 1, maxLength: 100 }), password: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
        response: { 200: SessionInfo },
      },
    },
    async (req, reply) => {
      // JSON only: a cross-site form cannot send it without a CORS preflight this server never grants (login CSRF).
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) throw new DsError('InvalidParameter', 'content-type: must be application/json');
      const { token, session } = await o.sessions.login(req.body.userName, req.body.password, req.ip);
      reply.header('set-cookie', cookie(token, Math.floor((session.expiresMs - Date.now()) / 1000)));
      reply.header('cache-control', 'no-store');
      return { userId: session.userId, userName: session.userName, csrfToken: session.csrfToken };
    },
  );
  app.get('/console/session', { schema: { tags, operationId: 'GetConsoleSession', response: { 200: SessionInfo } } }, async (req, reply) => {
    const token = sessionToken(req);
    const session = token ? await o.sessions.resolve(token) : null;
    if (!session) throw new DsError('NotAuthenticated', 'Not logged in');
    reply.header('cache-control', 'no-store');
    return { userId: session.userId, userName: session.userName, csrfToken: session.csrfToken };
  });
  app.post('/console/logout', { schema: { tags, operationId: 'ConsoleLogout' } }, async (req, reply) => {
    const token = sessionToken(req);
    if (token) await o.sessions.logout(token);
    reply.header('set-cookie', cookie('', 0));
    reply.code(204).send();
  });
}
