/**
 * Whether a device's execution provider is present in this onnxruntime-node and actually starts, asked once per
 * device in the thread that owns sessions (session-host.ts). CUDA is ruled out before onnxruntime is asked when its
 * provider libraries were never installed.
 */
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { cudaBinariesInstalled, deviceHint, type Device } from './devices.js';

const { onnx } = onnxProto;

export class DeviceUnavailable extends Error {}

const probed = new Map<Device, string | null>(); // device → null if usable, else why not

/** Throws DeviceUnavailable (one readable line) unless the device can run sessions. */
export async function checkDevice(device: Device): Promise<void> {
  if (device === 'cpu') return;
  let why = probed.get(device);
  if (why === undefined) {
    why = await probeDevice(device);
    probed.set(device, why);
  }
  if (why !== null) throw new DeviceUnavailable(why);
}

async function probeDevice(device: Device): Promise<string | null> {
  const unavailable = `device '${device}' is not available`;
  const backends = ort.listSupportedBackends();
  if (!backends.some((b) => b.name === device)) {
    const have = backends.map((b) => b.name).join(', ');
    return `${unavailable}: this onnxruntime-node build has no ${device} execution provider (it has: ${have})`;
  }
  if (device === 'cuda' && !cudaBinariesInstalled()) {
    return `${unavailable}: onnxruntime-node's CUDA provider libraries are not installed — ${deviceHint(device)}`;
  }
  try {
    const s = await ort.InferenceSession.create(tinyGraph(), { executionProviders: [device], logSeverityLevel: 4 });
    await s.release();
    return null;
  } catch (e) {
    return `${unavailable}: its execution provider failed to start (${firstLine(e)}) — ${deviceHint(device)}`;
  }
}

/** y = x + x on a [1] float tensor: enough for an execution provider to initialise. */
function tinyGraph(): Uint8Array {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } });
  const m = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 14 }],
    graph: { name: 'probe', node: [{ opType: 'Add', input: ['x', 'x'], output: ['y'] }], input: [vi('x')], output: [vi('y')] },
  });
  return onnx.ModelProto.encode(m).finish();
}

/** The readable part of an onnxruntime error: its first line, after the failed assertion, at most 300 characters. */
export function firstLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  // ORT messages start with a source path and a failed assertion; the readable part is the last sentence.
  let line = s.split('\n')[0].trim();
  const assertion = / was false\. (.*)$/.exec(line);
  if (assertion) line = assertion[1];
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
