/** A counted resource (SSE streams, uploads in progress): taking one past the cap is a 503 `busy` to retry later. */
import { ServiceError } from './errors.js';

export class Slots {
  private used = 0;
  constructor(
    readonly what: string,
    readonly max: number,
    /** The setting that raises the cap, named in the error. */
    readonly setting: string,
  ) {}

  get inUse(): number {
    return this.used;
  }

  /** Takes a slot; the returned function gives it back (once, however often it is called). */
  take(): () => void {
    if (this.used >= this.max) {
      throw new ServiceError('busy', `${this.max} ${this.what} are open, the most this server allows (${this.setting}); retry shortly`, {
        retryAfter: 5,
      });
    }
    this.used++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used--;
    };
  }
}

/** A server's caps on SSE streams and uploads in progress (per process, whatever the backend). */
export function requestSlots(config: { maxStreams: number; maxUploads: number }): { streams: Slots; uploads: Slots } {
  return {
    streams: new Slots('event streams', config.maxStreams, 'WEIGHTSCOPE_MAX_STREAMS'),
    uploads: new Slots('uploads', config.maxUploads, 'WEIGHTSCOPE_MAX_UPLOADS'),
  };
}
