/**
 * A server without API keys is open to whoever can reach it, and a browser lets any page reach 127.0.0.1: by a
 * form or fetch (text/plain and multipart need no CORS preflight) or by DNS rebinding (the attacker's name resolves
 * to 127.0.0.1, so the page is "same-origin" with the server under that name). So, keyless:
 * - every request must name this server in Host (loopback names on the listening port, or WEIGHTSCOPE_ALLOWED_HOSTS);
 * - state-changing requests must not come from another origin (Origin) or site (Sec-Fetch-Site).
 * Reads from another origin are allowed: the browser keeps their answers from the page (no CORS headers are sent).
 * With keys these checks are moot (a page cannot know the key), and they are skipped.
 */
import type { NextFunction, Request, Response } from 'express';
import { isLoopback } from './auth.js';
import type { ServiceConfig } from './config.js';
import { ServiceError } from './errors.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** "name:port" / "[v6]:port" / "name" → lowercased name and port (null when absent). */
function splitHost(h: string): { name: string; port: number | null } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(h.trim().toLowerCase());
  return m ? { name: m[1], port: m[2] ? Number(m[2]) : null } : { name: h, port: null };
}

export function siteGuard(config: Pick<ServiceConfig, 'apiKeys' | 'host' | 'allowedHosts' | 'allowedOrigins'>) {
  const allowedHosts = new Set(config.allowedHosts.map((h) => h.toLowerCase()));
  const allowedOrigins = new Set(config.allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  // Bound to a non-loopback address (only with WEIGHTSCOPE_ALLOW_OPEN=1), Host is checked only against the list.
  const checkHost = isLoopback(config.host) || allowedHosts.size > 0;
  const bindName = config.host.includes(':') ? `[${config.host.toLowerCase()}]` : config.host.toLowerCase();
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (config.apiKeys.length > 0) return next();
    const host = req.headers.host;
    if (checkHost && host !== undefined) {
      const { name, port } = splitHost(host);
      const local = (LOOPBACK_NAMES.has(name) || name === bindName) && (port === null || port === req.socket.localPort);
      if (!local && !allowedHosts.has(name) && !allowedHosts.has(`${name}:${port}`)) {
        return next(
          new ServiceError(
            'forbidden-origin',
            `Host ${host} is not this server's name (a DNS-rebinding page?); add it to WEIGHTSCOPE_ALLOWED_HOSTS if it is`,
          ),
        );
      }
    }
    if (SAFE.has(req.method)) return next();
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const o = origin.toLowerCase().replace(/\/+$/, '');
      if (o !== `http://${(host ?? '').toLowerCase()}` && !allowedOrigins.has(o)) {
        return next(
          new ServiceError(
            'forbidden-origin',
            `a ${req.method} from Origin ${origin} is refused: without API keys only this server's own pages may change it (WEIGHTSCOPE_ALLOWED_ORIGINS lists others)`,
          ),
        );
      }
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return next(
        new ServiceError(
          'forbidden-origin',
          `a ${req.method} with Sec-Fetch-Site: ${site} is refused: without API keys only this server's own pages may change it`,
        ),
      );
    }
    next();
  };
}
