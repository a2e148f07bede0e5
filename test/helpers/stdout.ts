/** Runs f with process.stdout.write captured; returns f's result and what it wrote. */
export function captureStdout<T>(f: () => T): { result: T; out: string } {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: f(), out };
  } finally {
    process.stdout.write = write;
  }
}
