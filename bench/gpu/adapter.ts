/**
 * Which GPU adapter WebGPU gets (bench/gpu/run.sh): the Vulkan physical devices the loader sees (onnxruntime's
 * WebGPU EP runs on Dawn, which uses Vulkan on Linux), read through koffi, then an onnxruntime session on the
 * 'webgpu' EP that must start and compute x + x. Prints one JSON line {vulkan: [...], webgpu: 'ok' | reason};
 * exits 3 with a line starting "no GPU adapter" when either finds none.
 */
import { createRequire } from 'node:module';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';

interface KoffiLib {
  func(definition: string): (...args: unknown[]) => unknown;
}
interface Koffi {
  load(path: string): KoffiLib;
  struct(name: string, def: Record<string, string>): unknown;
}

const DEVICE_TYPE = ['other', 'integrated GPU', 'discrete GPU', 'virtual GPU', 'CPU'];
const version = (v: number) => `${(v >>> 22) & 0x7f}.${(v >>> 12) & 0x3ff}.${v & 0xfff}`;

export interface VulkanDevice {
  name: string;
  type: string;
  vendor: string;
  api: string;
}

/** The Vulkan physical devices, or why there are none. */
export function vulkanDevices(): VulkanDevice[] | string {
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  let lib: KoffiLib;
  try {
    lib = koffi.load('libvulkan.so.1');
  } catch (e) {
    return `the Vulkan loader libvulkan.so.1 is missing (${(e as Error).message.split('\n')[0]})`;
  }
  koffi.struct('VkInstanceCreateInfo', {
    sType: 'uint32_t',
    pNext: 'void *',
    flags: 'uint32_t',
    pApplicationInfo: 'void *',
    enabledLayerCount: 'uint32_t',
    ppEnabledLayerNames: 'void *',
    enabledExtensionCount: 'uint32_t',
    ppEnabledExtensionNames: 'void *',
  });
  const create = lib.func('int vkCreateInstance(const VkInstanceCreateInfo *info, void *alloc, _Out_ void **instance)');
  const enumerate = lib.func('int vkEnumeratePhysicalDevices(void *instance, _Inout_ uint32_t *count, uint8_t *devices)');
  const properties = lib.func('void vkGetPhysicalDeviceProperties(void *device, _Out_ uint8_t *props)');
  const destroy = lib.func('void vkDestroyInstance(void *instance, void *alloc)');
  const inst: unknown[] = [null];
  const rc = create(
    {
      sType: 1,
      pNext: null,
      flags: 0,
      pApplicationInfo: null,
      enabledLayerCount: 0,
      ppEnabledLayerNames: null,
      enabledExtensionCount: 0,
      ppEnabledExtensionNames: null,
    },
    null,
    inst,
  ) as number;
  if (rc !== 0) return `vkCreateInstance failed (${rc}${rc === -9 ? ' VK_ERROR_INCOMPATIBLE_DRIVER: no Vulkan driver (ICD) found' : ''})`;
  try {
    const count = [0];
    enumerate(inst[0], count, null);
    if (count[0] === 0) return 'the Vulkan loader found no physical device';
    const handles = new Uint8Array(8 * count[0]);
    enumerate(inst[0], count, handles);
    const view = new DataView(handles.buffer);
    const out: VulkanDevice[] = [];
    for (let i = 0; i < count[0]; i++) {
      // VkPhysicalDeviceProperties: apiVersion, driverVersion, vendorID, deviceID, deviceType, char deviceName[256], …
      const p = new Uint8Array(1024);
      properties(view.getBigUint64(8 * i, true), p);
      const pv = new DataView(p.buffer);
      const end = p.indexOf(0, 20);
      out.push({
        name: Buffer.from(p.subarray(20, end < 0 ? 276 : end)).toString('utf8'),
        type: DEVICE_TYPE[pv.getUint32(16, true)] ?? 'unknown',
        vendor: `0x${pv.getUint32(8, true).toString(16)}`,
        api: version(pv.getUint32(0, true)),
      });
    }
    return out;
  } finally {
    destroy(inst[0], null);
  }
}

/** null when an onnxruntime session on the WebGPU EP starts and computes x + x, else why not. */
export async function webgpuProbe(): Promise<string | null> {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }] } } } });
  const model = onnxProto.onnx.ModelProto.encode(
    onnxProto.onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 14 }],
      graph: { name: 'probe', node: [{ opType: 'Add', input: ['x', 'x'], output: ['y'] }], input: [vi('x')], output: [vi('y')] },
    }),
  ).finish();
  try {
    const s = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
    const y = (await s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]) })).y.data as Float32Array;
    await s.release();
    return y[3] === 8 ? null : `the WebGPU session computed ${Array.from(y)} for 2·[1, 2, 3, 4]`;
  } catch (e) {
    // onnxruntime's messages lead with a source path and a failed assertion; the readable part follows it.
    const line = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    return / was false\. (.*)$/.exec(line)?.[1] ?? line;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const vk = vulkanDevices();
  const webgpu = await webgpuProbe();
  console.log(JSON.stringify({ vulkan: vk, webgpu: webgpu ?? 'ok' }));
  if (typeof vk === 'string' || webgpu !== null) {
    console.error(
      `no GPU adapter: ${typeof vk === 'string' ? `Vulkan: ${vk}` : `Vulkan sees ${vk.map((d) => d.name).join(', ')}`}; onnxruntime WebGPU: ${webgpu ?? 'ok'}`,
    );
    process.exit(3);
  }
}
