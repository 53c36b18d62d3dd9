import { isIP } from 'node:net';

/**
 * Which Host headers the server answers. A web page can reach a server on localhost through DNS rebinding: its own
 * name (evil.example) is made to resolve to 127.0.0.1, and the browser then sends the page's requests, with
 * `Host: evil.example`, to this server. Refusing host names the server does not know stops that, as Vite's and
 * webpack's dev servers do. Accepted:
 * - IP literals (127.0.0.1, [::1], 192.0.2.7): a page whose origin is an address cannot be rebound to another one;
 * - `localhost` and names under `.localhost` (browsers resolve them to loopback themselves);
 * - the listen address when it is a name, and each entry of `allowedHosts` (the server adds the machine's own
 *   name): a name, `.example.com` for that name and every name under it, or `*` for any (turns the check off).
 * A request without a Host header (HTTP/1.0) is answered: browsers always send one.
 */
export class HostCheck {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly any: boolean;

  constructor(allowedHosts: readonly string[], listenHost: string) {
    this.any = allowedHosts.includes('*');
    for (const h of [...allowedHosts, listenHost]) {
      const name = h.trim().toLowerCase().replace(/\.$/, '');
      if (!name || name === '*') continue;
      if (name.startsWith('.')) {
        this.suffixes.push(name);
        this.exact.add(name.slice(1));
      } else {
        this.exact.add(name);
      }
    }
  }

  /** The host name of a Host header (no port, no brackets), lower case; null when there is none. */
  static hostname(header: string | undefined): string | null {
    if (!header) return null;
    const h = header.trim().toLowerCase();
    if (h.startsWith('[')) {
      const end = h.indexOf(']');
      return end > 0 ? h.slice(1, end) : h;
    }
    const colon = h.lastIndexOf(':');
    return (colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h).replace(/\.$/, '');
  }

  allows(header: string | undefined): boolean {
    if (this.any) return true;
    const name = HostCheck.hostname(header);
    if (name === null) return true;
    if (isIP(name) !== 0) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    if (this.exact.has(name)) return true;
    return this.suffixes.some((s) => name.endsWith(s));
  }
}
