// Runs a Node entry script in this process and prints its peak RSS (process.resourceUsage().maxRSS, which counts
// worker threads too) as `maxrss_kb=N` on stderr at exit. Used by gpt2-small.ts when /usr/bin/time is absent.
// Usage: node [--import tsx] rss-wrapper.mjs ENTRY [args...]
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [entry, ...args] = process.argv.slice(2);
process.argv = [process.argv[0], resolve(entry), ...args];
process.on('exit', () => process.stderr.write(`maxrss_kb=${process.resourceUsage().maxRSS}\n`));
await import(pathToFileURL(resolve(entry)).href);
