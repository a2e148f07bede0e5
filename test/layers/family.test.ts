/** Model families for ranking: config.json's model_type, else a layer signature that sizes of one architecture share. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerSignature, modelFamily } from '../../src/layers/family.js';
import { llamaTensors } from '../helpers/llm-folder.js';

test('Llama-2 7B and 13B shapes share a signature; GPT-2 names do not; model_type wins when present', () => {
  const l7 = llamaTensors({ vocab: 32000, hidden: 4096, intermediate: 11008, layers: 32 });
  const l13 = llamaTensors({ vocab: 32000, hidden: 5120, intermediate: 13824, layers: 40 });
  assert.equal(layerSignature(l7), layerSignature(l13));
  const gpt2 = [
    { name: 'transformer.wte.weight', shape: [50257, 768] },
    { name: 'transformer.h.0.attn.c_attn.weight', shape: [768, 2304] },
    { name: 'transformer.h.11.attn.c_attn.weight', shape: [768, 2304] },
  ];
  assert.notEqual(layerSignature(gpt2), layerSignature(l7));
  // norms and biases do not enter the signature
  assert.equal(layerSignature([...gpt2, { name: 'transformer.ln_f.weight', shape: [768] }]), layerSignature(gpt2));
  assert.deepEqual(modelFamily({ model_type: 'llama' }, l7), {
    name: 'llama',
    source: 'model_type',
    model_type: 'llama',
    signature: layerSignature(l7),
  });
  const none = modelFamily(null, gpt2);
  assert.equal(none.source, 'signature');
  assert.equal(none.name, `signature:${layerSignature(gpt2)}`);
  assert.match(none.signature, /^[0-9a-f]{12}$/);
});
