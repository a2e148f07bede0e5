/**
 * Postgres LISTEN/NOTIFY between nodes, on one dedicated connection per process (reconnected when it drops):
 * job events for SSE on any API node, cancellations for the worker running the job, and "work queued" wake-ups so
 * idle workers fetch at once instead of at their next poll. Notifications are sent inside the transaction that
 * made the change, so a listener never hears of a change it cannot read yet.
 */
import type pg from 'pg';
import { openClient } from './pg.js';

export const CHANNELS = { job: 'weightscope_job', cancel: 'weightscope_cancel', work: 'weightscope_work' } as const;
export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

export class PgEvents {
  private client: pg.Client | null = null;
  private readonly handlers = new Map<Channel, Set<(payload: string) => void>>();
  private closed = false;
  private reconnecting: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly log: (line: string) => void,
    private readonly onReconnect?: () => void,
  ) {}

  on(channel: Channel, fn: (payload: string) => void): void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(fn);
  }

  async start(): Promise<void> {
    const c = openClient(this.url);
    c.on('notification', (n) => {
      for (const fn of this.handlers.get(n.channel as Channel) ?? []) fn(n.payload ?? '');
    });
    c.on('error', (e) => this.lost(c, e));
    c.on('end', () => this.lost(c, new Error('connection ended')));
    await c.connect();
    for (const ch of Object.values(CHANNELS)) await c.query(`LISTEN ${ch}`);
    this.client = c;
  }

  private lost(c: pg.Client, e: Error): void {
    if (this.closed || this.client !== c || this.reconnecting) return;
    this.client = null;
    this.log(`weightscope: lost the LISTEN connection (${e.message}); reconnecting`);
    const retry = (): void => {
      this.reconnecting = setTimeout(() => {
        this.reconnecting = null;
        if (this.closed) return;
        this.start().then(
          // Events sent while we were away are gone: whoever cares re-reads the state.
          () => this.onReconnect?.(),
          () => retry(),
        );
      }, 1000);
    };
    retry();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnecting) clearTimeout(this.reconnecting);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}

/** NOTIFY inside a transaction (delivered at its commit). */
export async function notify(
  c: { query(text: string, values: unknown[]): Promise<unknown> },
  channel: Channel,
  payload: string,
): Promise<void> {
  await c.query('SELECT pg_notify($1, $2)', [channel, payload]);
}
