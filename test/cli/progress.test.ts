/**
 * One progress design for every long command (issues 13, 16): JSON lines on stderr with --progress, a bar with an
 * ETA on a terminal, nothing otherwise; and a file without weight matrices is one error line and exit 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressReporter, etaSeconds } from '../../src/cli/progress.js';
import { fixture } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = {
    isTTY,
    columns: 100,
    text: '',
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

test('progressReporter: JSON lines (throttled, last step always), a terminal bar with ETA, silence otherwise', () => {
  const js = fakeStream(false);
  const p = progressReporter({ json: true, command: 'analyze', stream: js, context: { model: 'm' } });
  p.hook(0, 4, 'reading', { fraction: 0 });
  p.hook(1, 4, 'a', { fraction: 0.5, gflops: 12.5 });
  p.hook(4, 4, 'd', { fraction: 1 });
  p.done();
  const lines = js.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  // the second event comes within 100 ms of the first: dropped; the last step is never dropped
  assert.deepEqual(
    lines.map((l) => [l.type, l.done]),
    [
      ['progress', 0],
      ['progress', 4],
      ['done', undefined],
    ],
  );
  assert.equal(lines[1].command, 'analyze');
  assert.equal(lines[1].model, 'm');
  assert.equal(lines[1].fraction, 1);
  assert.equal(lines[1].eta_s, undefined, 'no ETA once done');
  assert.equal(typeof lines[2].elapsed_s, 'number');

  const tty = fakeStream(true);
  const bar = progressReporter({ stream: tty });
  bar.hook(1, 2, 'layer one', { fraction: 0.25, gflops: 40 });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line escape is what is checked
  assert.match(tty.text, /^\r\[######\.{18}\] 1\/2 25% \d+s ETA \d+s layer one 40\.0 GFLOP\/s\x1b\[K$/);
  bar.done();
  assert.ok(tty.text.endsWith('\r\x1b[K'));

  const quiet = fakeStream(false);
  const q = progressReporter({ stream: quiet });
  q.hook(1, 2, 'x');
  q.done();
  assert.equal(quiet.text, '');
  assert.equal(etaSeconds(10, 0.25), 30);
  assert.equal(etaSeconds(10, 0), undefined);
});

test('analyze --progress: JSON lines on stderr per layer, with its GFLOP/s; stdout stays the report', async () => {
  const r = await runCli(['analyze', fixture('stories260k'), '--json', '--fits', 'pl', '--progress', '--no-cache']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const progress = lines.filter((l) => l.type === 'progress');
  assert.ok(progress.length >= 2);
  assert.deepEqual(progress.at(-1)!.done, 36);
  assert.equal(progress.at(-1)!.total, 36);
  assert.equal(progress.at(-1)!.command, 'analyze');
  assert.equal(typeof progress.at(-1)!.gflops, 'number');
  assert.equal(lines.at(-1)!.type, 'done');
  const report = JSON.parse(r.stdout) as { layers: unknown[]; work: { layers_computed: number } };
  assert.equal(report.layers.length, 36);
  assert.equal(report.work.layers_computed, 36);
});

test('a dataset given to analyze or rank: "no weight matrices found (…)" and exit 1', async () => {
  const data = fixture('fmnist-hessian', 'batch.safetensors');
  const a = await runCli(['analyze', data]);
  assert.equal(a.code, 1);
  assert.equal(a.stdout, '');
  assert.equal(a.stderr, 'weightscope: no weight matrices found (2 tensors: x [1000, 1, 28, 28] F32, y [1000] I64)\n');
  const r = await runCli(['rank', fixture('fmnist-hessian', 'mlp48.safetensors'), data, '--no-cache']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^weightscope: .*batch\.safetensors: no weight matrices found \(2 tensors/);
});
